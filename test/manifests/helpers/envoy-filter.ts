// EnvoyFilter objects read as istiod reads them: the spec against Istio's own envoy_filter.proto (the istio.io/api
// source pinned in scripts/tools.mjs, from Go's module cache), strictly; then each patch's value against Envoy's
// protos: an inserted HTTP filter as it is, a MERGE as the filter it would produce on the ext_authz filter that
// Istio generates for a gRPC provider.
import protobuf from 'protobufjs';
import { ensureIstioApi } from '../../../scripts/tools.mjs';
import { envoyProtoDirs } from '../../../src/envoy/protos.js';
import { envoyLibrary } from './envoy.js';
import { isRecord, ProtoLibrary, strictFromJson } from './proto-strict.js';

const ENVOY_FILTER = 'istio.networking.v1alpha3.EnvoyFilter';
const HTTP_FILTER = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter';

let istio: ProtoLibrary | undefined;

/** Istio's networking API, loaded from the pinned istio.io/api source. */
function istioLibrary(): ProtoLibrary {
  if (!istio) {
    istio = new ProtoLibrary([ensureIstioApi(), ...envoyProtoDirs()]);
    istio.load(['networking/v1alpha3/envoy_filter.proto']);
  }
  return istio;
}

/**
 * The ext_authz HTTP filter Istio generates for an envoyExtAuthzGrpc provider, reduced to what a MERGE needs to
 * land on (its service); a MERGE patch is checked as the filter it makes of this one.
 */
const GENERATED_EXT_AUTHZ = {
  name: 'envoy.filters.http.ext_authz',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
    transport_api_version: 'V3',
    grpc_service: { envoy_grpc: { cluster_name: 'outbound|9191||meshwarden.meshwarden.svc.cluster.local' }, timeout: '0.5s' },
    status_on_error: { code: 'Forbidden' },
  },
};

/** Proto merge of JSON: messages field by field, repeated fields appended, scalars replaced. */
export function protoMerge(target: unknown, patch: unknown): unknown {
  if (Array.isArray(target) && Array.isArray(patch)) return [...target, ...patch];
  if (!isRecord(target) || !isRecord(patch)) return patch;
  const merged: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) merged[key] = key in target ? protoMerge(target[key], value) : value;
  return merged;
}

/** The spec as protobufjs's EnvoyFilter (throws StrictProtoError on an unknown field, a bad enum or type). */
export function readEnvoyFilterSpec(spec: unknown): protobuf.Message {
  const type = istioLibrary().type(ENVOY_FILTER);
  return strictFromJson(type, spec).message;
}

/** Every problem of an EnvoyFilter's spec and of its patches' values (empty when it reads as istiod would). */
export function envoyFilterProblems(spec: unknown): string[] {
  const problems: string[] = [];
  try {
    readEnvoyFilterSpec(spec);
  } catch (error) {
    return [`spec: ${(error as Error).message}`];
  }
  const patches = isRecord(spec) && Array.isArray(spec['configPatches']) ? spec['configPatches'] : [];
  const envoy = envoyLibrary();
  patches.forEach((entry: unknown, index: number) => {
    const where = `configPatches[${index}]`;
    if (!isRecord(entry) || !isRecord(entry['patch'])) return;
    if (entry['applyTo'] !== 'HTTP_FILTER') {
      problems.push(`${where}: applyTo ${String(entry['applyTo'])} is not checked against Envoy's protos here`);
      return;
    }
    const { operation, value } = entry['patch'];
    const filter = operation === 'MERGE' ? protoMerge(GENERATED_EXT_AUTHZ, value) : value;
    try {
      strictFromJson(envoy.resolveAny(`type.googleapis.com/${HTTP_FILTER}`), filter, envoy.resolveAny);
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
  });
  return problems;
}
