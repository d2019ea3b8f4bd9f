// The part of Istio's MeshConfig the manifests use (meshConfig.extensionProviders with envoyExtAuthzGrpc and
// envoyExtAuthzHttp), as protobuf types, so that the mesh config is read like istiod reads it: proto3 JSON,
// unknown fields rejected, types and Durations checked.
//
// No npm package ships Istio's MeshConfig API (the IstioOperator CRD in @kubernetes-models/istio leaves
// `spec` untyped), so the messages below restate the field names, numbers and types of istio/api
// mesh/v1alpha1/config.proto (MeshConfig.extension_providers = 57, ExtensionProvider and its
// EnvoyExternalAuthorization* messages). Everything else in MeshConfig is deliberately absent: a field
// outside this subset fails the check, which is right for these files, which set nothing else.
// Not covered: `clearRouteCache` (added to the API in 2024 but never emitted by istiod, istio/istio#61558).
import protobuf from 'protobufjs';
import { loadEnvoyApi } from '../../../src/envoy/protos.js';
import { isRecord, strictFromJson } from './proto-strict.js';

const requestBody = {
  fields: {
    max_request_bytes: { type: 'uint32', id: 1 },
    allow_partial_message: { type: 'bool', id: 2 },
    pack_as_bytes: { type: 'bool', id: 3 },
  },
};

const httpProvider = {
  fields: {
    service: { type: 'string', id: 1 },
    port: { type: 'uint32', id: 2 },
    timeout: { type: 'google.protobuf.Duration', id: 9 },
    path_prefix: { type: 'string', id: 3 },
    fail_open: { type: 'bool', id: 4 },
    status_on_error: { type: 'string', id: 5 },
    include_headers_in_check: { rule: 'repeated', type: 'string', id: 6, options: { deprecated: true } },
    include_request_headers_in_check: { rule: 'repeated', type: 'string', id: 10 },
    include_additional_headers_in_check: { keyType: 'string', type: 'string', id: 11 },
    include_request_body_in_check: { type: 'EnvoyExternalAuthorizationRequestBody', id: 12 },
    headers_to_upstream_on_allow: { rule: 'repeated', type: 'string', id: 7 },
    headers_to_downstream_on_deny: { rule: 'repeated', type: 'string', id: 8 },
    headers_to_downstream_on_allow: { rule: 'repeated', type: 'string', id: 13 },
  },
};

const grpcProvider = {
  fields: {
    service: { type: 'string', id: 1 },
    port: { type: 'uint32', id: 2 },
    timeout: { type: 'google.protobuf.Duration', id: 5 },
    fail_open: { type: 'bool', id: 3 },
    status_on_error: { type: 'string', id: 4 },
    include_request_body_in_check: { type: 'EnvoyExternalAuthorizationRequestBody', id: 6 },
  },
};

const DESCRIPTOR = {
  nested: {
    istio: {
      nested: {
        mesh: {
          nested: {
            v1alpha1: {
              nested: {
                MeshConfig: {
                  fields: { extension_providers: { rule: 'repeated', type: 'ExtensionProvider', id: 57 } },
                  nested: {
                    ExtensionProvider: {
                      oneofs: { provider: { oneof: ['envoy_ext_authz_http', 'envoy_ext_authz_grpc'] } },
                      fields: {
                        name: { type: 'string', id: 1 },
                        envoy_ext_authz_http: { type: 'EnvoyExternalAuthorizationHttpProvider', id: 2 },
                        envoy_ext_authz_grpc: { type: 'EnvoyExternalAuthorizationGrpcProvider', id: 3 },
                      },
                      nested: {
                        EnvoyExternalAuthorizationRequestBody: requestBody,
                        EnvoyExternalAuthorizationHttpProvider: httpProvider,
                        EnvoyExternalAuthorizationGrpcProvider: grpcProvider,
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

let meshConfigType: protobuf.Type | undefined;

export function meshConfigMessage(): protobuf.Type {
  if (!meshConfigType) {
    const duration = protobuf.common.get('google/protobuf/duration.proto');
    if (!duration?.nested) throw new Error('protobufjs lacks google/protobuf/duration.proto');
    const root = new protobuf.Root();
    root.addJSON(duration.nested);
    root.addJSON(DESCRIPTOR.nested);
    root.resolveAll();
    meshConfigType = root.lookupType('istio.mesh.v1alpha1.MeshConfig');
  }
  return meshConfigType;
}

export interface ExtensionProvider {
  name: string;
  kind: 'envoyExtAuthzGrpc' | 'envoyExtAuthzHttp';
  service: string;
  port: number;
  /** Seconds. */
  timeout?: number;
  failOpen: boolean;
  statusOnError?: string;
  pathPrefix?: string;
  includeRequestHeadersInCheck: string[];
  /** HTTP only: which headers of the authorizer's answer reach the upstream (allow) or the caller (deny/allow). */
  headersToUpstreamOnAllow: string[];
  headersToDownstreamOnDeny: string[];
  headersToDownstreamOnAllow: string[];
  includeRequestBody?: { maxRequestBytes: number; allowPartialMessage: boolean; packAsBytes: boolean };
}

/**
 * Reads an IstioOperator's spec: only `meshConfig` may be set, and it must convert strictly. Returns the
 * providers (decoded back from the encoded message, so what is returned is what the proto holds).
 */
export function readIstioOperatorSpec(spec: unknown): ExtensionProvider[] {
  if (!isRecord(spec)) throw new Error('spec: expected an object');
  const extra = Object.keys(spec).filter((key) => key !== 'meshConfig');
  if (extra.length > 0) throw new Error(`spec: only meshConfig is expected here, found ${extra.join(', ')}`);
  return readMeshConfig(spec['meshConfig']);
}

export function readMeshConfig(meshConfig: unknown): ExtensionProvider[] {
  const type = meshConfigMessage();
  const { message, deprecated } = strictFromJson(type, meshConfig);
  if (deprecated.length > 0) throw new Error(`meshConfig uses deprecated fields: ${deprecated.join(', ')}`);
  const decoded = type.toObject(type.decode(type.encode(message).finish()), { longs: Number, defaults: false }) as {
    extension_providers?: Record<string, any>[];
  };
  return (decoded.extension_providers ?? []).map((entry) => {
    const grpc = entry['envoy_ext_authz_grpc'];
    const http = entry['envoy_ext_authz_http'];
    const config = grpc ?? http ?? {};
    const body = config.include_request_body_in_check;
    return {
      name: entry['name'] ?? '',
      kind: grpc ? 'envoyExtAuthzGrpc' : 'envoyExtAuthzHttp',
      service: config.service ?? '',
      port: config.port ?? 0,
      timeout: config.timeout ? Number(config.timeout.seconds ?? 0) + Number(config.timeout.nanos ?? 0) / 1e9 : undefined,
      failOpen: config.fail_open ?? false,
      statusOnError: config.status_on_error,
      pathPrefix: config.path_prefix,
      includeRequestHeadersInCheck: config.include_request_headers_in_check ?? [],
      headersToUpstreamOnAllow: config.headers_to_upstream_on_allow ?? [],
      headersToDownstreamOnDeny: config.headers_to_downstream_on_deny ?? [],
      headersToDownstreamOnAllow: config.headers_to_downstream_on_allow ?? [],
      includeRequestBody: body
        ? { maxRequestBytes: body.max_request_bytes ?? 0, allowPartialMessage: body.allow_partial_message ?? false, packAsBytes: body.pack_as_bytes ?? false }
        : undefined,
    } satisfies ExtensionProvider;
  });
}

/**
 * What istiod itself refuses in a provider (istio/istio pilot/pkg/security/authz/builder/extauthz.go and
 * the provider-name rule of Istio 1.30), checked here because a refused provider turns every policy
 * naming it into deny rules.
 */
export function providerProblems(provider: ExtensionProvider): string[] {
  const problems: string[] = [];
  const where = `provider ${JSON.stringify(provider.name)}`;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(provider.name)) problems.push(`${where}: name is not a DNS-1123 label`);
  if (!provider.service) problems.push(`${where}: service is required`);
  if (!(provider.port >= 1 && provider.port <= 65535)) problems.push(`${where}: port must be 1-65535`);
  if (provider.statusOnError !== undefined) {
    const code = Number(provider.statusOnError);
    if (!/^[0-9]+$/.test(provider.statusOnError) || !loadEnvoyApi().envoyStatusCodes.has(code)) {
      problems.push(`${where}: statusOnError ${provider.statusOnError} is not an Envoy StatusCode`);
    }
  }
  if (provider.kind === 'envoyExtAuthzHttp') {
    if (provider.pathPrefix !== undefined && !provider.pathPrefix.startsWith('/')) problems.push(`${where}: pathPrefix must start with /`);
    if (provider.includeRequestHeadersInCheck.includes('*')) problems.push(`${where}: a bare * header pattern is rejected`);
  }
  return problems;
}
