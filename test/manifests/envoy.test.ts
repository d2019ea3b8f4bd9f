// examples/envoy/envoy.yaml against Envoy's own API (the protos of @grpc/grpc-js-xds): read as an
// envoy.config.bootstrap.v3.Bootstrap the way Envoy reads its config (unknown fields and enum names
// rejected, every typed_config resolved to its message and read as strictly, protoc-gen-validate rules
// checked), encoded, decoded, and then checked for what makes it a fail-closed meshwarden setup.
import { describe, expect, it } from 'vitest';
import { BOOTSTRAP_TYPE, envoyLibrary, readBootstrap } from './helpers/envoy.js';
import { isRecord } from './helpers/proto-strict.js';
import { the } from './helpers/manifests.js';
import { clone, loadYamlFile } from './helpers/yaml.js';

const CONFIG = 'examples/envoy/envoy.yaml';
const EXT_AUTHZ = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const HTTP_OPTIONS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

function source(): Record<string, any> {
  const docs = loadYamlFile(CONFIG);
  expect(docs).toHaveLength(1);
  return docs[0]!.value as Record<string, any>;
}

/**
 * The bootstrap after a binary round trip, as plain data with every Any decoded into its message (shown
 * with its "@type"), enums as names and durations as seconds: what Envoy would hold in memory.
 */
function decoded(json: unknown): Record<string, any> {
  const library = envoyLibrary();
  const type = library.type(BOOTSTRAP_TYPE);
  const { message } = readBootstrap(json);
  const back = type.decode(type.encode(message).finish());
  return expandAny(type.toObject(back, { enums: String, longs: Number, defaults: true, arrays: true, objects: true }));
}

function expandAny(value: unknown): any {
  if (Array.isArray(value)) return value.map(expandAny);
  if (!isRecord(value)) return value;
  if (typeof value['type_url'] === 'string' && value['value'] instanceof Uint8Array) {
    const inner = envoyLibrary().resolveAny(value['type_url']);
    const object = inner.toObject(inner.decode(value['value']), { enums: String, longs: Number, defaults: true, arrays: true, objects: true });
    return { '@type': value['type_url'], ...expandAny(object) };
  }
  if (typeof value['seconds'] === 'number' && typeof value['nanos'] === 'number' && Object.keys(value).length === 2) {
    return value['seconds'] + value['nanos'] / 1e9;
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandAny(item)]));
}

/** What must hold for this config to protect the application with meshwarden, failing closed. */
function semanticProblems(config: Record<string, any>): string[] {
  const problems: string[] = [];
  const need = (ok: unknown, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const listeners: any[] = config['static_resources']?.listeners ?? [];
  const clusters: any[] = config['static_resources']?.clusters ?? [];
  const clusterNames = new Set(clusters.map((c) => c.name));
  const listener = listeners.find((l) => l.address?.socket_address?.port_value === 8443);
  need(listener, 'no listener on 8443');
  for (const chain of listener?.filter_chains ?? []) {
    const tls = chain.transport_socket?.typed_config;
    need(tls?.['@type'] === TLS, 'a filter chain without a DownstreamTlsContext');
    need(tls?.require_client_certificate?.value === true, 'client certificates are not required');
    const validation = tls?.common_tls_context?.validation_context;
    need(validation?.trusted_ca?.filename, 'no trusted CA for client certificates');
    const sans: any[] = validation?.match_typed_subject_alt_names ?? [];
    need(sans.length > 0, 'client certificate SANs are not checked');
    for (const san of sans) {
      need(san.san_type === 'URI', `SAN matcher of type ${san.san_type}, not URI`);
      need(san.matcher?.prefix === 'spiffe://cluster.local/', 'the SAN prefix is not exactly the trust domain spiffe://cluster.local/');
    }
    const hcm = chain.filters?.find((f: any) => f.typed_config?.['@type'] === HCM)?.typed_config;
    need(hcm, 'no HTTP connection manager');
    const filters: any[] = hcm?.http_filters ?? [];
    const authzIndex = filters.findIndex((f) => f.typed_config?.['@type'] === EXT_AUTHZ);
    need(authzIndex === 0, 'ext_authz is not the first HTTP filter');
    need(filters.at(-1)?.typed_config?.['@type'] === ROUTER, 'the router is not the last HTTP filter');
    const authz = filters[authzIndex]?.typed_config ?? {};
    need(authz.transport_api_version === 'V3', `transport_api_version is ${authz.transport_api_version}, not V3`);
    need(authz.failure_mode_allow === false, 'failure_mode_allow is not false (fail open)');
    need(authz.include_peer_certificate === true, 'include_peer_certificate is not true');
    need(authz.status_on_error?.code === 'Forbidden', `status_on_error is ${authz.status_on_error?.code}, not Forbidden (403)`);
    need(authz.with_request_body?.max_request_bytes === 8192 && authz.with_request_body?.allow_partial_message === true, 'the body is not sent (8192 bytes, partial allowed)');
    const grpc = authz.grpc_service;
    const timeout = grpc?.timeout;
    if (typeof timeout !== 'number') problems.push('the check timeout is not set');
    else need(timeout > 0 && timeout <= 0.5, `the check timeout is ${timeout}s, not in (0, 0.5s]`);
    const target = grpc?.envoy_grpc?.cluster_name;
    need(target === 'meshwarden', `ext_authz calls cluster ${target}, not meshwarden`);
    need(clusterNames.has(target), `ext_authz cluster ${target} is not defined`);
    for (const host of hcm?.route_config?.virtual_hosts ?? []) {
      for (const route of host.routes ?? []) need(clusterNames.has(route.route?.cluster), `route to undefined cluster ${route.route?.cluster}`);
    }
  }
  const meshwarden = clusters.find((c) => c.name === 'meshwarden');
  const options = meshwarden?.typed_extension_protocol_options?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  need(options?.['@type'] === HTTP_OPTIONS && options?.explicit_http_config?.http2_protocol_options, 'the meshwarden cluster does not speak HTTP/2');
  // The check itself over mutual TLS: Envoy's client certificate, meshwarden's checked by its exact SPIFFE ID.
  const upstream = meshwarden?.transport_socket?.typed_config;
  need(upstream?.['@type'] === UPSTREAM_TLS, 'the meshwarden cluster is not TLS (UpstreamTlsContext)');
  const upstreamContext = upstream?.common_tls_context;
  need((upstreamContext?.tls_certificates ?? []).length === 1, 'Envoy presents no client certificate to meshwarden');
  need(upstreamContext?.validation_context?.trusted_ca?.filename, 'no trusted CA for meshwarden\'s certificate');
  const upstreamSans: any[] = upstreamContext?.validation_context?.match_typed_subject_alt_names ?? [];
  need(
    upstreamSans.length === 1 && upstreamSans[0].san_type === 'URI' && /^spiffe:\/\/cluster\.local\/ns\/[^/]+\/sa\/[^/]+$/.test(upstreamSans[0].matcher?.exact ?? ''),
    'meshwarden\'s certificate is not checked for one exact SPIFFE ID (URI SAN)',
  );
  need((upstreamContext?.alpn_protocols ?? []).includes('h2'), 'the TLS connection to meshwarden does not offer h2');
  const endpoint = (cluster: any) => cluster?.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
  need(endpoint(meshwarden)?.address === '127.0.0.1' && endpoint(meshwarden)?.port_value === 9191, 'meshwarden is not at 127.0.0.1:9191');
  const app = clusters.find((c) => c.name === 'app');
  need(endpoint(app)?.address === '127.0.0.1' && endpoint(app)?.port_value === 8080, 'app is not at 127.0.0.1:8080');
  return problems;
}

describe(`${CONFIG} is a valid Envoy v3 bootstrap`, () => {
  it('reads strictly as envoy.config.bootstrap.v3.Bootstrap, every typed_config included', () => {
    const { anyTypes, deprecated } = readBootstrap(source());
    expect(new Set(anyTypes)).toEqual(new Set([TLS, HCM, EXT_AUTHZ, ROUTER, HTTP_OPTIONS, UPSTREAM_TLS]));
    expect(deprecated).toEqual([]);
  });

  it('survives a binary round trip unchanged in meaning', () => {
    const config = decoded(source());
    expect(config['static_resources'].listeners).toHaveLength(1);
    expect(config['static_resources'].clusters.map((c: any) => c.name)).toEqual(['meshwarden', 'app']);
    // A second round trip from the decoded form gives the same bytes: nothing was lost or invented.
    const type = envoyLibrary().type(BOOTSTRAP_TYPE);
    const first = type.encode(readBootstrap(source()).message).finish();
    expect(Buffer.from(type.encode(type.decode(first)).finish()).equals(Buffer.from(first))).toBe(true);
  });

  it('is a fail-closed mTLS front for the app with meshwarden as authorizer', () => {
    expect(semanticProblems(decoded(source()))).toEqual([]);
  });

  it('agrees with the Kubernetes manifests: the meshwarden cluster port is the container’s gRPC port', () => {
    const container = the('istio/meshwarden.yaml', 'Deployment')['spec'].template.spec.containers[0];
    const grpcPort = container.ports.find((p: { name: string }) => p.name === 'grpc').containerPort;
    const meshwarden = decoded(source())['static_resources'].clusters.find((c: any) => c.name === 'meshwarden');
    expect(meshwarden.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value).toBe(grpcPort);
  });
});

// Mutated copies prove that the reading above is strict and the semantic checks bite.
describe('broken copies of the config are rejected', () => {
  const listener = (config: Record<string, any>) => config['static_resources'].listeners[0];
  const chain = (config: Record<string, any>) => listener(config).filter_chains[0];
  const hcm = (config: Record<string, any>) => chain(config).filters[0].typed_config;
  const extAuthz = (config: Record<string, any>) => hcm(config).http_filters[0].typed_config;
  const tls = (config: Record<string, any>) => chain(config).transport_socket.typed_config;
  const mutated = (change: (config: Record<string, any>) => void) => {
    const config = clone(source());
    change(config);
    return config;
  };

  it('a misspelled field inside the ext_authz typed_config', () => {
    const config = mutated((c) => {
      extAuthz(c).failure_mode_alow = extAuthz(c).failure_mode_allow;
      delete extAuthz(c).failure_mode_allow;
    });
    expect(() => readBootstrap(config)).toThrow(/unknown field "failure_mode_alow" in envoy\.extensions\.filters\.http\.ext_authz\.v3\.ExtAuthz/);
  });

  it('a misspelled field in the TLS context, the cluster and the top level', () => {
    expect(() => readBootstrap(mutated((c) => (tls(c).require_client_certificat = true)))).toThrow(/unknown field "require_client_certificat"/);
    expect(() => readBootstrap(mutated((c) => (c['static_resources'].clusters[0].conect_timeout = '1s')))).toThrow(/unknown field "conect_timeout" in envoy\.config\.cluster\.v3\.Cluster/);
    expect(() => readBootstrap(mutated((c) => (c['static_resource'] = {})))).toThrow(/unknown field "static_resource" in envoy\.config\.bootstrap\.v3\.Bootstrap/);
  });

  it('wrong types and unknown enum values', () => {
    expect(() => readBootstrap(mutated((c) => (extAuthz(c).transport_api_version = 'V4')))).toThrow(/"V4" is not a value of enum envoy\.config\.core\.v3\.ApiVersion/);
    expect(() => readBootstrap(mutated((c) => (extAuthz(c).include_peer_certificate = 'true')))).toThrow(/include_peer_certificate: expected a boolean/);
    expect(() => readBootstrap(mutated((c) => (listener(c).address.socket_address.port_value = 'https')))).toThrow(/port_value: expected an integer/);
    expect(() => readBootstrap(mutated((c) => (listener(c).address.socket_address.port_value = 4294967296)))).toThrow(/out of range for uint32/);
    expect(() => readBootstrap(mutated((c) => (extAuthz(c).grpc_service.timeout = '250ms')))).toThrow(/expected a duration/);
    expect(() => readBootstrap(mutated((c) => (extAuthz(c).status_on_error.code = 'Forbiden')))).toThrow(/not a value of enum envoy\.type\.v3\.StatusCode/);
  });

  it('a typed_config whose "@type" is missing or names no message of the API', () => {
    expect(() => readBootstrap(mutated((c) => delete extAuthz(c)['@type']))).toThrow(/needs "@type"/);
    expect(() =>
      readBootstrap(mutated((c) => (extAuthz(c)['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthZ'))),
    ).toThrow(/unknown "@type"/);
    // A real message of the wrong kind: its fields do not fit.
    expect(() => readBootstrap(mutated((c) => (extAuthz(c)['@type'] = ROUTER)))).toThrow(/unknown field "transport_api_version" in envoy\.extensions\.filters\.http\.router\.v3\.Router/);
  });

  it('two members of a oneof, and protoc-gen-validate rules (required, min_len, ranges)', () => {
    expect(() => readBootstrap(mutated((c) => (extAuthz(c).grpc_service.google_grpc = { target_uri: 'x', stat_prefix: 'x' })))).toThrow(/oneof target_specifier has several members set/);
    expect(() => readBootstrap(mutated((c) => (extAuthz(c).grpc_service.envoy_grpc.cluster_name = '')))).toThrow(/cluster_name: must be at least 1 characters/);
    expect(() => readBootstrap(mutated((c) => delete extAuthz(c).grpc_service.envoy_grpc))).toThrow(/oneof target_specifier is required/);
    expect(() => readBootstrap(mutated((c) => (extAuthz(c).with_request_body.max_request_bytes = 0)))).toThrow(/max_request_bytes: must be greater than 0/);
    expect(() => readBootstrap(mutated((c) => (listener(c).address.socket_address.port_value = 70000)))).toThrow(/port_value: must be at most 65535/);
    expect(() => readBootstrap(mutated((c) => (extAuthz(c).status_on_error.code = 0)))).toThrow(/status_on_error\.code: 0 is not allowed here/);
    expect(() => readBootstrap(mutated((c) => (extAuthz(c).status_on_error.code = 999)))).toThrow(/999 is not a defined value of envoy\.type\.v3\.StatusCode/);
  });

  it('a deprecated field is reported', () => {
    const { deprecated } = readBootstrap(
      mutated((c) => {
        tls(c).common_tls_context.validation_context.match_subject_alt_names = [{ prefix: 'spiffe://cluster.local/' }];
      }),
    );
    expect(deprecated.join()).toMatch(/match_subject_alt_names/);
  });

  it('valid but unsafe or broken settings fail the semantic checks', () => {
    const problems = (change: (config: Record<string, any>) => void) => semanticProblems(decoded(mutated(change)));
    expect(problems((c) => (extAuthz(c).failure_mode_allow = true))).toEqual(['failure_mode_allow is not false (fail open)']);
    expect(problems((c) => (extAuthz(c).transport_api_version = 'AUTO'))).toEqual(['transport_api_version is AUTO, not V3']);
    expect(problems((c) => (extAuthz(c).include_peer_certificate = false))).toEqual(['include_peer_certificate is not true']);
    expect(problems((c) => delete extAuthz(c).grpc_service.timeout)).toEqual(['the check timeout is not set']);
    expect(problems((c) => (extAuthz(c).grpc_service.timeout = '600s'))).toEqual(['the check timeout is 600s, not in (0, 0.5s]']);
    expect(problems((c) => delete c['static_resources'].clusters[0].typed_extension_protocol_options)).toEqual(['the meshwarden cluster does not speak HTTP/2']);
    expect(problems((c) => (tls(c).require_client_certificate = false))).toEqual(['client certificates are not required']);
    expect(problems((c) => (tls(c).common_tls_context.validation_context.match_typed_subject_alt_names[0].matcher.prefix = 'spiffe://cluster.local'))).toEqual([
      'the SAN prefix is not exactly the trust domain spiffe://cluster.local/',
    ]);
    expect(problems((c) => hcm(c).http_filters.reverse())).toEqual(['ext_authz is not the first HTTP filter', 'the router is not the last HTTP filter']);
    expect(problems((c) => delete c['static_resources'].clusters[0].transport_socket)).toEqual([
      'the meshwarden cluster is not TLS (UpstreamTlsContext)',
      'Envoy presents no client certificate to meshwarden',
      'no trusted CA for meshwarden\'s certificate',
      'meshwarden\'s certificate is not checked for one exact SPIFFE ID (URI SAN)',
      'the TLS connection to meshwarden does not offer h2',
    ]);
    expect(problems((c) => (c['static_resources'].clusters[0].transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].matcher = { prefix: 'spiffe://cluster.local/' }))).toEqual([
      'meshwarden\'s certificate is not checked for one exact SPIFFE ID (URI SAN)',
    ]);
    expect(problems((c) => (extAuthz(c).grpc_service.envoy_grpc.cluster_name = 'authz'))).toEqual([
      'ext_authz calls cluster authz, not meshwarden',
      'ext_authz cluster authz is not defined',
    ]);
  });
});
