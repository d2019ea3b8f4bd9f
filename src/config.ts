// Flags + MESHWARDEN_* environment + a config file → one validated, frozen ServeConfig of values; every problem is
// listed at once. The files the values name (descriptors, key files, policies) are read by runtime.ts.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';
import { isAllowedKeyUri, type JwtIssuerSetting, type JwtSvidSetting, type KeySource } from './identity/jwt.js';
import { parseMetadataPath, type MetadataPath } from './identity/metadata-principal.js';
import { isSpiffeIdError, parseSpiffeId, trustDomainProblems, validateTrustDomain } from './identity/spiffe.js';
import { parseAddress, type Address } from './listeners/address.js';
import { LOG_LEVELS, type Level } from './logger.js';
import { PLUGIN_DEFAULTS, readOpaConfigFile, type OpaConfig } from './management/config-file.js';


export interface ServeConfig {
  grpcAddr: Address;
  /** Admin HTTP endpoint (/healthz, /readyz, /metrics); undefined when turned off. */
  adminAddr: Address | undefined;
  /** Envoy's HTTP ext_authz service (envoyExtAuthzHttp); undefined (off) unless set. */
  httpAddr: Address | undefined;
  /** The provider's pathPrefix, stripped from HTTP check requests. */
  httpPathPrefix: string;
  /** Policy bundle or .wasm; undefined = a rules file (--rules, else the embedded default rules) with the rules library. */
  bundle: string | undefined;
  /** A rules file (YAML/JSON) served with the rules library instead of a policy bundle; watched and reloaded. Undefined = the embedded default rules unless --bundle is set. */
  rules: string | undefined;
  /** JSON data for a bare .wasm policy. */
  data: string | undefined;
  /** Decision path (entrypoint) of --bundle; undefined = the policy's single entrypoint. */
  decision: string | undefined;
  shadow: boolean;
  logLevel: Level;
  /** Names (parts of names) whose values the debug log redacts, besides the default list (check/redact-input.ts). */
  logRedact: string[];
  /** CheckRequests larger than this are denied with request_too_large. */
  maxRequestBytes: number;
  /** Requests whose path (with its query) is longer are denied with path_too_long. */
  maxPathBytes: number;
  /** Requests with more header bytes (names and values) are denied with headers_too_large. */
  maxHeaderBytes: number;
  /** Requests with more headers are denied with headers_too_large. */
  maxHeaderCount: number;
  skipBodyParse: boolean;
  /** Binary FileDescriptorSet for parsing application/grpc bodies (opa-envoy-plugin's proto-descriptor). */
  protoDescriptor: string | undefined;
  /** How long SIGTERM waits for in-flight calls before closing them. */
  shutdownGraceMs: number;
  /** After SIGTERM, how long health says NOT_SERVING while new checks are still answered (endpoint removal). */
  drainMs: number;
  /** The longest one check may take, gRPC or HTTP (a gRPC caller's grpc-timeout can only shorten it). */
  callTimeoutMs: number;
  /** A gRPC or HTTP connection with nothing in flight for this long is closed. */
  idleTimeoutMs: number;
  /** Connections each listener (gRPC, HTTP) holds at once; more are refused. */
  maxConnections: number;
  /** gRPC calls one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreamsPerConnection: number;
  /** Bytes all unfinished gRPC messages and HTTP bodies of the process may hold together; more are denied. */
  maxBufferedBytes: number;
  /** How long a changed rules file must stay unchanged (and read the same twice) before it is reloaded. */
  rulesSettleMs: number;
  /** Worker processes sharing the listeners (src/workers/); undefined = auto, one per CPU this process may use. */
  workers: number | undefined;
  /** The local trust domain (Istio meshConfig.trustDomain). */
  trustDomain: string;
  /** Treated as the local trust domain (Istio meshConfig.trustDomainAliases). */
  trustDomainAliases: string[];
  /** Foreign trust domains whose identities are accepted (federation), never local. */
  federatedTrustDomains: string[];
  /** Opt-in: without an mTLS principal, take the identity from the last x-forwarded-client-cert element. */
  xfcc: boolean;
  /**
   * Opt-in: without an mTLS principal, the source principal an Envoy filter wrote into the CheckRequest's
   * filter_metadata at NAMESPACE:KEY[:KEY…] (an ambient waypoint); undefined = off.
   */
  sourcePrincipalMetadata: MetadataPath | undefined;
  /** TLS on every listener: the server's certificate chain and key (PEM files, watched and reloaded). */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** mTLS: the CA bundle client certificates must chain to; set = a client certificate is required. */
  tlsClientCa: string | undefined;
  /** mTLS: the SPIFFE IDs allowed to call (each client certificate's one URI SAN); empty = any the CA signed. */
  tlsAllowedSpiffeIds: string[];
  /** OpenTelemetry: the OTLP/HTTP traces endpoint a span per Check is sent to; undefined = tracing off. */
  otlpTracesEndpoint: string | undefined;
  /** The YAML or JSON file the settings were read from, if any. */
  config: string | undefined;
  /** opa-envoy-plugin's config file (OPA's format), if any: its plugin section sets the values above it does not override. */
  configFile: string | undefined;
  /** That file's services, bundles, keys and labels (the management plane, src/management/). */
  opa: OpaConfig | undefined;
  /** Serve gRPC server reflection (on unless an OPA config file says enable-reflection: false or leaves it out). */
  reflection: boolean;
  /** Where each setting that names a file came from (a flag, a variable or the config file), for runtime.ts's messages. */
  origins: Readonly<Partial<Record<'protoDescriptor', string>>>;
  /** End-user JWT issuers (config file only: `jwt-issuers`); input.jwt is set when a bearer token is sent. */
  jwtIssuers: JwtIssuerSetting[];
  /** JWT-SVID acceptance (config file only: `jwt-svid`); the source identity without an mTLS principal. */
  jwtSvid: JwtSvidSetting | undefined;
}

/** Settings that are structured, so they come only from the config file, never from flags or variables. */
type StructuredKey = 'jwtIssuers' | 'jwtSvid';
type FlagKey = Exclude<keyof ServeConfig, StructuredKey | 'origins' | 'opa' | 'reflection'>;
const STRUCTURED_SETTINGS: ReadonlyMap<string, StructuredKey> = new Map([
  ['jwt-issuers', 'jwtIssuers'],
  ['jwt-svid', 'jwtSvid'],
]);

type Kind = 'string' | 'boolean' | 'list';

interface OptionSpec {
  flag: string;
  env: string;
  kind: Kind;
  help: string;
}

export const SERVE_OPTIONS: Record<FlagKey, OptionSpec> = {
  grpcAddr: { flag: 'grpc-addr', env: 'MESHWARDEN_GRPC_ADDR', kind: 'string', help: 'HOST:PORT to serve gRPC on; :PORT means every IPv4 interface (0.0.0.0), [::]:PORT every interface (default 0.0.0.0:9191)' },
  httpAddr: { flag: 'http-addr', env: 'MESHWARDEN_HTTP_ADDR', kind: 'string', help: "HOST:PORT for Envoy's HTTP ext_authz service, :PORT as for --grpc-addr (default off)" },
  httpPathPrefix: { flag: 'http-path-prefix', env: 'MESHWARDEN_HTTP_PATH_PREFIX', kind: 'string', help: "the provider's pathPrefix to strip from HTTP check requests, e.g. /check" },
  adminAddr: { flag: 'admin-addr', env: 'MESHWARDEN_ADMIN_ADDR', kind: 'string', help: 'HOST:PORT for /healthz, /readyz, /metrics, /debug/memory, :PORT as for --grpc-addr, or off (default 0.0.0.0:9090)' },
  rules: { flag: 'rules', env: 'MESHWARDEN_RULES', kind: 'string', help: 'serve this rules file (YAML/JSON) with the built-in rules library; reloaded when it changes (default: the embedded default rules)' },
  bundle: { flag: 'bundle', env: 'MESHWARDEN_BUNDLE', kind: 'string', help: 'serve this policy bundle (.tar.gz) or .wasm from opa build -t wasm instead of rules (default: none)' },
  data: { flag: 'data', env: 'MESHWARDEN_DATA', kind: 'string', help: 'JSON data file for a bare .wasm policy' },
  decision: { flag: 'decision', env: 'MESHWARDEN_DECISION', kind: 'string', help: "decision path of --bundle, e.g. envoy/authz/allow (default: the bundle's single entrypoint)" },
  shadow: { flag: 'shadow', env: 'MESHWARDEN_SHADOW', kind: 'boolean', help: 'let policy denies pass; log and count them as shadow denies' },
  logLevel: { flag: 'log-level', env: 'MESHWARDEN_LOG_LEVEL', kind: 'string', help: `${LOG_LEVELS.join('|')} (default info)` },
  logRedact: { flag: 'log-redact', env: 'MESHWARDEN_LOG_REDACT', kind: 'list', help: 'comma-separated names (parts of names, any case) whose values the debug log redacts, besides the default list' },
  maxRequestBytes: { flag: 'max-request-bytes', env: 'MESHWARDEN_MAX_REQUEST_BYTES', kind: 'string', help: 'deny CheckRequests larger than this (default 8388608)' },
  maxPathBytes: { flag: 'max-path-bytes', env: 'MESHWARDEN_MAX_PATH_BYTES', kind: 'string', help: 'deny requests whose path (with the query) is longer (default 65536)' },
  maxHeaderBytes: { flag: 'max-header-bytes', env: 'MESHWARDEN_MAX_HEADER_BYTES', kind: 'string', help: 'deny requests with more bytes of header names and values (default 1048576)' },
  maxHeaderCount: { flag: 'max-header-count', env: 'MESHWARDEN_MAX_HEADER_COUNT', kind: 'string', help: 'deny requests with more headers (default 10000)' },
  skipBodyParse: { flag: 'skip-body-parse', env: 'MESHWARDEN_SKIP_BODY_PARSE', kind: 'boolean', help: 'leave parsed_body and truncated_body out of the input' },
  protoDescriptor: { flag: 'proto-descriptor', env: 'MESHWARDEN_PROTO_DESCRIPTOR', kind: 'string', help: 'binary FileDescriptorSet (protoc --descriptor_set_out --include_imports) to parse gRPC bodies' },
  shutdownGraceMs: { flag: 'shutdown-grace-ms', env: 'MESHWARDEN_SHUTDOWN_GRACE_MS', kind: 'string', help: 'after the drain, how long in-flight calls may take before every connection is closed (default 10000)' },
  drainMs: { flag: 'drain-ms', env: 'MESHWARDEN_DRAIN_MS', kind: 'string', help: 'after SIGTERM, how long health is NOT_SERVING while new checks are still answered (default 5000)' },
  callTimeoutMs: { flag: 'call-timeout-ms', env: 'MESHWARDEN_CALL_TIMEOUT_MS', kind: 'string', help: 'the longest one check may take without a shorter grpc-timeout; then a call_timeout deny (408) (default 2000)' },
  idleTimeoutMs: { flag: 'idle-timeout-ms', env: 'MESHWARDEN_IDLE_TIMEOUT_MS', kind: 'string', help: 'close gRPC and HTTP connections idle this long (default 300000)' },
  maxConnections: { flag: 'max-connections', env: 'MESHWARDEN_MAX_CONNECTIONS', kind: 'string', help: 'connections the gRPC and the HTTP listener each accept at once; more are refused (default 4096)' },
  maxStreamsPerConnection: { flag: 'max-streams-per-connection', env: 'MESHWARDEN_MAX_STREAMS_PER_CONNECTION', kind: 'string', help: 'gRPC calls one connection may have open at once (default 100)' },
  maxBufferedBytes: { flag: 'max-buffered-bytes', env: 'MESHWARDEN_MAX_BUFFERED_BYTES', kind: 'string', help: 'bytes all unfinished requests of a process may hold together (gRPC messages by their declared size, HTTP bodies); a message past it is denied with buffer_budget_exceeded (429) (default 134217728, at least 4/3 of max-request-bytes)' },
  rulesSettleMs: { flag: 'rules-settle-ms', env: 'MESHWARDEN_RULES_SETTLE_MS', kind: 'string', help: 'reload a changed --rules file once it has not changed for this long and reads the same twice (default 1000)' },
  workers: { flag: 'workers', env: 'MESHWARDEN_WORKERS', kind: 'string', help: 'worker processes sharing the listeners, or auto: one per CPU this process may use, cgroup quota included (default auto; 1 = one process)' },
  trustDomain: { flag: 'trust-domain', env: 'MESHWARDEN_TRUST_DOMAIN', kind: 'string', help: 'the local trust domain (default cluster.local)' },
  trustDomainAliases: { flag: 'trust-domain-aliases', env: 'MESHWARDEN_TRUST_DOMAIN_ALIASES', kind: 'list', help: 'comma-separated aliases of the local trust domain' },
  federatedTrustDomains: { flag: 'federated-trust-domains', env: 'MESHWARDEN_FEDERATED_TRUST_DOMAINS', kind: 'list', help: 'comma-separated foreign trust domains to accept' },
  xfcc: { flag: 'xfcc', env: 'MESHWARDEN_XFCC', kind: 'boolean', help: 'without an mTLS principal, use the last x-forwarded-client-cert element (off: clients can forge it)' },
  sourcePrincipalMetadata: {
    flag: 'source-principal-metadata',
    env: 'MESHWARDEN_SOURCE_PRINCIPAL_METADATA',
    kind: 'string',
    help: "NAMESPACE:KEY in the CheckRequest's filter_metadata holding the source SPIFFE ID when source.principal is empty (an Envoy filter before ext_authz must write it, e.g. at an ambient waypoint; gRPC only; default off)",
  },
  tlsCert: { flag: 'tls-cert', env: 'MESHWARDEN_TLS_CERT', kind: 'string', help: 'PEM certificate chain: every listener (gRPC, HTTP, admin) serves TLS; watched, a new pair is used for new connections' },
  tlsKey: { flag: 'tls-key', env: 'MESHWARDEN_TLS_KEY', kind: 'string', help: 'PEM private key of --tls-cert' },
  tlsClientCa: { flag: 'tls-client-ca', env: 'MESHWARDEN_TLS_CLIENT_CA', kind: 'string', help: 'PEM CA bundle: mutual TLS, a client certificate signed by it is required (watched)' },
  tlsAllowedSpiffeIds: { flag: 'tls-allowed-spiffe-ids', env: 'MESHWARDEN_TLS_ALLOWED_SPIFFE_IDS', kind: 'list', help: 'comma-separated SPIFFE IDs allowed to call (the client certificate\'s one URI SAN); default: any the CA signed' },
  otlpTracesEndpoint: { flag: 'otlp-traces-endpoint', env: 'MESHWARDEN_OTLP_TRACES_ENDPOINT', kind: 'string', help: 'OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces): one span per Check (default: tracing off)' },
  config: { flag: 'config', env: 'MESHWARDEN_CONFIG', kind: 'string', help: 'YAML or JSON file with these settings (keys as the flag names); flags and variables win' },
  configFile: { flag: 'config-file', env: 'MESHWARDEN_OPA_CONFIG', kind: 'string', help: "opa-envoy-plugin's config file (OPA's format: services, bundles, keys, labels, plugins.envoy_ext_authz_grpc)" },
};

/** More worker processes than this is a typo, not a deployment. */
const MAX_WORKERS = 256;

const DEFAULTS: ServeConfig = {
  grpcAddr: { host: '0.0.0.0', port: 9191 },
  adminAddr: { host: '0.0.0.0', port: 9090 },
  httpAddr: undefined,
  httpPathPrefix: '',
  bundle: undefined,
  rules: undefined,
  data: undefined,
  decision: undefined,
  shadow: false,
  logLevel: 'info',
  logRedact: [],
  maxRequestBytes: 8 * 1024 * 1024,
  maxPathBytes: 64 * 1024,
  maxHeaderBytes: 1024 * 1024,
  maxHeaderCount: 10_000,
  skipBodyParse: false,
  protoDescriptor: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  tlsClientCa: undefined,
  tlsAllowedSpiffeIds: [],
  otlpTracesEndpoint: undefined,
  shutdownGraceMs: 10_000,
  drainMs: 5_000,
  callTimeoutMs: 2_000,
  idleTimeoutMs: 300_000,
  maxConnections: 4096,
  maxStreamsPerConnection: 100,
  maxBufferedBytes: 128 * 1024 * 1024,
  rulesSettleMs: 1000,
  workers: undefined,
  trustDomain: 'cluster.local',
  trustDomainAliases: [],
  federatedTrustDomains: [],
  xfcc: false,
  sourcePrincipalMetadata: undefined,
  config: undefined,
  configFile: undefined,
  opa: undefined,
  reflection: true,
  origins: {},
  jwtIssuers: [],
  jwtSvid: undefined,
};

type IntegerKey = 'maxPathBytes' | 'maxHeaderBytes' | 'maxHeaderCount' | 'shutdownGraceMs' | 'drainMs' | 'callTimeoutMs' | 'idleTimeoutMs' | 'maxConnections' | 'maxStreamsPerConnection' | 'maxBufferedBytes';

/** Whole-number settings: unit (for the message) and the range accepted. */
const INTEGER_SETTINGS: readonly (readonly [IntegerKey, string, number, number])[] = [
  ['maxPathBytes', 'bytes', 256, 64 * 1024 * 1024],
  ['maxHeaderBytes', 'bytes', 1024, 64 * 1024 * 1024],
  ['maxHeaderCount', 'headers', 16, 1_000_000],
  ['shutdownGraceMs', 'milliseconds', 0, 600_000],
  ['drainMs', 'milliseconds', 0, 600_000],
  // Above Envoy's 0.5 s ext_authz timeout by default; at least 100 ms so a check can be decided at all.
  ['callTimeoutMs', 'milliseconds', 100, 600_000],
  ['idleTimeoutMs', 'milliseconds', 1_000, 86_400_000],
  ['maxConnections', 'connections', 1, 1_000_000],
  // HTTP/2 allows up to 2^31-1; grpc-js needs at least 1 to serve anything.
  ['maxStreamsPerConnection', 'streams', 1, 2_147_483_647],
  ['maxBufferedBytes', 'bytes', 1024 * 1024, 2 ** 40],
];

/** Parses `serve` flags over MESHWARDEN_* variables (flags win); throws ConfigError listing every problem. */
export function parseServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServeConfig {
  const { config, problems } = readServeConfig(argv, env);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * The settings and every problem with them. Where a value is bad the default stands in, so that runtime.ts
 * can still read the files the good values name and list their problems with these (one ConfigError).
 */
export function readServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): { config: ServeConfig; problems: string[] } {
  const problems: string[] = [];
  const raw = readRaw(argv, env, SERVE_OPTIONS, problems);
  const configFile = raw.get('config');
  const structured = new Map<StructuredKey, StructuredValue>();
  if (configFile !== undefined) {
    for (const [key, value] of readConfigFile(configFile.value, SERVE_OPTIONS, problems, structured)) if (!raw.has(key)) raw.set(key, value);
  }
  const opaFile = raw.get('configFile');
  let opa: OpaConfig | undefined;
  if (opaFile !== undefined) {
    const read = readOpaConfigFile(opaFile.value, env);
    problems.push(...read.problems);
    opa = read.config;
    if (opa !== undefined) for (const [key, value] of pluginValues(opa)) if (!raw.has(key)) raw.set(key, value);
  }
  const config: ServeConfig = { ...DEFAULTS, config: configFile?.value, configFile: opaFile?.value, opa };
  if (opa !== undefined) config.reflection = opa.plugin.enableReflection ?? PLUGIN_DEFAULTS.enableReflection;

  const addr = raw.get('grpcAddr');
  if (addr !== undefined) {
    const parsed = parseAddress(addr.value);
    if (parsed) config.grpcAddr = parsed;
    else problems.push(`${addr.origin}: "${addr.value}" is not HOST:PORT (port 0-65535; IPv6 as [::1]:9191)`);
  }
  // Listeners other than gRPC can be turned off.
  for (const key of ['adminAddr', 'httpAddr'] as const) {
    const value = raw.get(key);
    if (value === undefined) continue;
    const parsed = value.value === 'off' ? undefined : parseAddress(value.value);
    if (parsed || value.value === 'off') config[key] = parsed;
    else problems.push(`${value.origin}: "${value.value}" is not HOST:PORT or off`);
  }
  const prefix = raw.get('httpPathPrefix');
  if (prefix !== undefined) {
    if (prefix.value === '' || (prefix.value.startsWith('/') && !prefix.value.endsWith('/') && !/[?#\s]/.test(prefix.value))) config.httpPathPrefix = prefix.value;
    else problems.push(`${prefix.origin}: "${prefix.value}" must start with / and not end with / (like Istio's pathPrefix, e.g. /check)`);
  }
  for (const key of ['bundle', 'data', 'decision', 'rules'] as const) {
    const value = raw.get(key);
    if (value === undefined) continue;
    if (value.value === '') problems.push(`${value.origin}: must not be empty`);
    else config[key] = value.value;
  }
  const descriptor = raw.get('protoDescriptor');
  if (descriptor !== undefined) {
    if (descriptor.value === '') problems.push(`${descriptor.origin}: ${descriptor.value}: must not be empty`);
    else {
      config.protoDescriptor = descriptor.value;
      config.origins = { protoDescriptor: descriptor.origin };
    }
  }
  const trustDomain = raw.get('trustDomain');
  if (trustDomain !== undefined) config.trustDomain = trustDomain.value;
  for (const key of ['trustDomainAliases', 'federatedTrustDomains'] as const) {
    const value = raw.get(key);
    if (value !== undefined) config[key] = splitList(value.value);
  }
  const redact = raw.get('logRedact');
  if (redact !== undefined) {
    const names = splitList(redact.value);
    const bad = names.filter((name) => !/^[!#$%&'*+.^_`|~0-9A-Za-z:-]+$/.test(name));
    if (names.length === 0 || bad.length > 0) problems.push(`${redact.origin}: "${redact.value}" is not a comma-separated list of names (header, parameter or field names)`);
    else config.logRedact = names;
  }
  for (const key of ['shadow', 'skipBodyParse', 'xfcc'] as const) {
    const value = raw.get(key);
    if (value === undefined) continue;
    const parsed = parseBoolean(value.value);
    if (parsed === undefined) problems.push(`${value.origin}: "${value.value}" is not true or false`);
    else config[key] = parsed;
  }
  const level = raw.get('logLevel');
  if (level !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(level.value)) config.logLevel = level.value as Level;
    else problems.push(`${level.origin}: "${level.value}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const maxBytes = raw.get('maxRequestBytes');
  if (maxBytes !== undefined) {
    const parsed = parseInteger(maxBytes.value, 1024, 1024 * 1024 * 1024);
    if (parsed === undefined) problems.push(`${maxBytes.origin}: "${maxBytes.value}" is not a whole number of bytes from 1024 to 1073741824`);
    else config.maxRequestBytes = parsed;
  }
  for (const [key, unit, min, max] of INTEGER_SETTINGS) {
    const value = raw.get(key);
    if (value === undefined) continue;
    const parsed = parseInteger(value.value, min, max);
    if (parsed === undefined) problems.push(`${value.origin}: "${value.value}" is not a whole number of ${unit} from ${min} to ${max}`);
    else config[key] = parsed;
  }
  // Large requests may fill three quarters of the buffer budget (listeners/buffer-budget.ts): that share must
  // hold one request of the largest size decided, or such a request would never be decided.
  const leastBudget = Math.ceil((config.maxRequestBytes * 4) / 3);
  const buffered = raw.get('maxBufferedBytes');
  if (buffered === undefined) config.maxBufferedBytes = Math.max(DEFAULTS.maxBufferedBytes, leastBudget);
  else if (config.maxBufferedBytes < leastBudget) {
    problems.push(`${buffered.origin}: ${config.maxBufferedBytes} is less than ${leastBudget}, four thirds of max-request-bytes (${config.maxRequestBytes}): large requests may use three quarters of the buffer budget, which must hold one of the largest size`);
  }
  const settle = raw.get('rulesSettleMs');
  if (settle !== undefined) {
    const parsed = parseInteger(settle.value, 10, 600_000);
    if (parsed === undefined) problems.push(`${settle.origin}: "${settle.value}" is not a whole number of milliseconds from 10 to 600000`);
    else config.rulesSettleMs = parsed;
  }
  const workers = raw.get('workers');
  if (workers !== undefined && workers.value !== 'auto') {
    const parsed = parseInteger(workers.value, 1, MAX_WORKERS);
    if (parsed === undefined) problems.push(`${workers.origin}: "${workers.value}" is not auto or a whole number of workers from 1 to ${MAX_WORKERS}`);
    else config.workers = parsed;
  }
  problems.push(...trustDomainProblems({ local: config.trustDomain, aliases: config.trustDomainAliases, federated: config.federatedTrustDomains }));
  const issuers = structured.get('jwtIssuers');
  if (issuers !== undefined) config.jwtIssuers = parseJwtIssuers(issuers, problems);
  const svid = structured.get('jwtSvid');
  if (svid !== undefined) config.jwtSvid = parseJwtSvid(svid, problems);
  for (const { trustDomain } of config.jwtSvid?.federated ?? []) {
    if (!config.federatedTrustDomains.includes(trustDomain)) {
      problems.push(`jwt-svid: federated-bundles: ${trustDomain} is not one of the federated trust domains (--federated-trust-domains)`);
    }
  }
  if (opaFile !== undefined) {
    if (config.rules !== undefined) problems.push(`${opaFile.origin}: the OPA config file serves a Rego bundle: leave out --rules`);
    if (opa !== undefined && opa.bundles.length > 0 && config.bundle !== undefined) problems.push(`${opaFile.origin}: the OPA config file lists bundles to download: leave out --bundle`);
    if (opa !== undefined && opa.bundles.length === 0 && config.bundle === undefined) problems.push(`${opaFile.value}: bundles: no bundle to serve; list one under bundles (or give a local one with --bundle)`);
  }
  readTlsSettings(raw, config, problems);
  const metadataPath = raw.get('sourcePrincipalMetadata');
  if (metadataPath !== undefined) {
    const parsed = parseMetadataPath(metadataPath.value);
    if ('problem' in parsed) problems.push(`${metadataPath.origin}: "${metadataPath.value}" ${parsed.problem}`);
    else config.sourcePrincipalMetadata = parsed;
  }
  const otlp = raw.get('otlpTracesEndpoint');
  if (otlp !== undefined) {
    if (/^https?:\/\/[^\s/]+(\/\S*)?$/.test(otlp.value)) config.otlpTracesEndpoint = otlp.value;
    else problems.push(`${otlp.origin}: "${otlp.value}" is not an http:// or https:// URL`);
  }
  if (config.rules !== undefined && (config.bundle !== undefined || config.decision !== undefined)) {
    problems.push('--rules serves the built-in rules library: leave out --bundle and --decision');
  }
  if (config.data !== undefined && config.bundle === undefined) {
    problems.push('--data needs --bundle pointing at a bare .wasm policy');
  }
  if (config.decision !== undefined && config.bundle === undefined && config.rules === undefined && config.opa === undefined && opaFile === undefined) {
    problems.push('--decision names an entrypoint of --bundle: without --bundle the embedded default rules are served with the built-in rules library');
  }

  const frozen: ServeConfig = Object.freeze({
    ...config,
    grpcAddr: Object.freeze(config.grpcAddr),
    adminAddr: config.adminAddr && Object.freeze(config.adminAddr),
    httpAddr: config.httpAddr && Object.freeze(config.httpAddr),
    trustDomainAliases: Object.freeze(config.trustDomainAliases) as string[],
    federatedTrustDomains: Object.freeze(config.federatedTrustDomains) as string[],
    logRedact: Object.freeze(config.logRedact) as string[],
    tlsAllowedSpiffeIds: Object.freeze(config.tlsAllowedSpiffeIds) as string[],
    jwtIssuers: Object.freeze(config.jwtIssuers) as JwtIssuerSetting[],
    jwtSvid: config.jwtSvid && Object.freeze(config.jwtSvid),
    origins: Object.freeze(config.origins),
  });
  return { config: frozen, problems };
}

/** The plugin section as flag values (lower than flags and variables), with opa-envoy-plugin's defaults. */
function pluginValues(opa: OpaConfig): Map<FlagKey, RawValue> {
  const where = `${opa.file}: plugins.envoy_ext_authz_grpc.`;
  const { plugin } = opa;
  const values = new Map<FlagKey, RawValue>([
    ['grpcAddr', { value: plugin.addr ?? PLUGIN_DEFAULTS.addr, origin: `${where}addr` }],
    ['decision', { value: plugin.path ?? PLUGIN_DEFAULTS.path, origin: `${where}path` }],
    ['maxRequestBytes', { value: String(plugin.grpcMaxRecvMsgSize ?? PLUGIN_DEFAULTS.grpcMaxRecvMsgSize), origin: `${where}grpc-max-recv-msg-size` }],
  ]);
  if (plugin.dryRun !== undefined) values.set('shadow', { value: String(plugin.dryRun), origin: `${where}dry-run` });
  if (plugin.skipRequestBodyParse !== undefined) values.set('skipBodyParse', { value: String(plugin.skipRequestBodyParse), origin: `${where}skip-request-body-parse` });
  if (plugin.protoDescriptor !== undefined) values.set('protoDescriptor', { value: plugin.protoDescriptor, origin: `${where}proto-descriptor` });
  return values;
}

/** The TLS files and the SPIFFE allow-list: a key goes with a certificate, an allow-list needs a client CA. */
function readTlsSettings(raw: Map<FlagKey, { value: string; origin: string }>, config: ServeConfig, problems: string[]): void {
  for (const key of ['tlsCert', 'tlsKey', 'tlsClientCa'] as const) {
    const value = raw.get(key);
    if (value === undefined) continue;
    if (value.value === '') problems.push(`${value.origin}: must not be empty`);
    else config[key] = value.value;
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) problems.push('--tls-cert and --tls-key go together: give both, or neither');
  if (config.tlsClientCa !== undefined && config.tlsCert === undefined) problems.push('--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)');
  const allowed = raw.get('tlsAllowedSpiffeIds');
  if (allowed === undefined) return;
  config.tlsAllowedSpiffeIds = splitList(allowed.value);
  if (config.tlsClientCa === undefined) problems.push(`${allowed.origin}: an allow-list of SPIFFE IDs needs --tls-client-ca (only client certificates carry them)`);
  for (const id of config.tlsAllowedSpiffeIds) {
    const parsed = parseSpiffeId(id);
    if (isSpiffeIdError(parsed)) problems.push(`${allowed.origin}: "${id}" is not a SPIFFE ID: ${parsed.message}`);
  }
}

interface StructuredValue {
  value: unknown;
  origin: string;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `<name>-file` xor `<name>-uri` (https, or http on 127.0.0.1/localhost for tests); runtime.ts reads the file. */
function parseKeySource(entry: Record<string, unknown>, name: string, origin: string, problems: string[]): KeySource | undefined {
  const file = entry[`${name}-file`];
  const uri = entry[`${name}-uri`];
  if ((file === undefined) === (uri === undefined)) {
    problems.push(`${origin}: needs exactly one of ${name}-file and ${name}-uri`);
    return undefined;
  }
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '') {
      problems.push(`${origin}: ${name}-file must be a file path`);
      return undefined;
    }
    return { file };
  }
  if (typeof uri !== 'string' || !isAllowedKeyUri(uri)) {
    problems.push(`${origin}: ${name}-uri must be an https URL (http only on 127.0.0.1 or localhost)`);
    return undefined;
  }
  return { uri };
}

function checkKeys(entry: Record<string, unknown>, allowed: readonly string[], origin: string, problems: string[]): void {
  for (const key of Object.keys(entry)) if (!allowed.includes(key)) problems.push(`${origin}: unknown key "${key}"`);
}

function parseJwtIssuers({ value, origin }: StructuredValue, problems: string[]): JwtIssuerSetting[] {
  if (!Array.isArray(value)) {
    problems.push(`${origin}: expected a list of {issuer, jwks-file | jwks-uri, audiences}`);
    return [];
  }
  const issuers: JwtIssuerSetting[] = [];
  const seen = new Set<string>();
  value.forEach((entry: unknown, index) => {
    const where = `${origin}[${index}]`;
    if (!isMapping(entry)) {
      problems.push(`${where}: expected a mapping with issuer, jwks-file or jwks-uri, and audiences`);
      return;
    }
    checkKeys(entry, ['issuer', 'jwks-file', 'jwks-uri', 'audiences'], where, problems);
    const issuer = entry['issuer'];
    const audiences = entry['audiences'];
    let ok = true;
    if (typeof issuer !== 'string' || issuer === '') {
      problems.push(`${where}: issuer must be a non-empty string`);
      ok = false;
    } else if (seen.has(issuer)) {
      problems.push(`${where}: issuer "${issuer}" is listed twice`);
      ok = false;
    } else {
      seen.add(issuer);
    }
    if (!Array.isArray(audiences) || audiences.length === 0 || !audiences.every((item) => typeof item === 'string' && item !== '')) {
      problems.push(`${where}: audiences must be a non-empty list of strings`);
      ok = false;
    }
    const keys = parseKeySource(entry, 'jwks', where, problems);
    if (ok && keys !== undefined) issuers.push(Object.freeze({ issuer: issuer as string, keys, audiences: Object.freeze([...(audiences as string[])]) as string[] }));
  });
  return issuers;
}

function parseJwtSvid({ value, origin }: StructuredValue, problems: string[]): JwtSvidSetting | undefined {
  if (!isMapping(value)) {
    problems.push(`${origin}: expected a mapping with audience and bundle-file or bundle-uri`);
    return undefined;
  }
  checkKeys(value, ['audience', 'bundle-file', 'bundle-uri', 'federated-bundles'], origin, problems);
  const audience = value['audience'];
  if (typeof audience !== 'string' || audience === '') problems.push(`${origin}: audience must be a non-empty string`);
  const keys = parseKeySource(value, 'bundle', origin, problems);
  const federated: { trustDomain: string; keys: KeySource }[] = [];
  const bundles = value['federated-bundles'];
  if (bundles !== undefined && !isMapping(bundles)) {
    problems.push(`${origin}: federated-bundles must map each federated trust domain to its bundle-file or bundle-uri`);
  } else if (bundles !== undefined) {
    for (const [trustDomain, entry] of Object.entries(bundles)) {
      const where = `${origin}: federated-bundles: ${trustDomain}`;
      const invalid = validateTrustDomain(trustDomain);
      if (invalid !== undefined) problems.push(`${where}: not a trust domain name: ${invalid.message}`);
      if (!isMapping(entry)) {
        problems.push(`${where}: expected a mapping with bundle-file or bundle-uri`);
        continue;
      }
      checkKeys(entry, ['bundle-file', 'bundle-uri'], where, problems);
      const source = parseKeySource(entry, 'bundle', where, problems);
      if (source !== undefined && invalid === undefined) federated.push(Object.freeze({ trustDomain, keys: source }));
    }
  }
  if (typeof audience !== 'string' || audience === '' || keys === undefined) return undefined;
  return federated.length === 0 ? { audience, keys } : { audience, keys, federated: Object.freeze(federated) };
}

interface RawValue {
  value: string;
  origin: string;
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Settings from a YAML/JSON file, keyed like the flags; unknown keys and wrong types are problems. */
function readConfigFile<K extends string>(
  path: string,
  specs: Record<K, OptionSpec>,
  problems: string[],
  structured: Map<StructuredKey, StructuredValue>,
): Map<K, RawValue> {
  const values = new Map<K, RawValue>();
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    problems.push(`${path}: cannot read the config file: ${(error as Error).message}`);
    return values;
  }
  if (document === null || document === undefined) return values;
  if (typeof document !== 'object' || Array.isArray(document)) {
    problems.push(`${path}: the config file must hold a mapping of settings`);
    return values;
  }
  const byFlag = new Map((Object.entries(specs) as [K, OptionSpec][]).map(([key, spec]) => [spec.flag, [key, spec] as const]));
  for (const [name, value] of Object.entries(document)) {
    const origin = `${path}: ${name}`;
    const structuredKey = STRUCTURED_SETTINGS.get(name);
    if (structuredKey !== undefined) {
      structured.set(structuredKey, { value, origin });
      continue;
    }
    const known = byFlag.get(name);
    if (!known || name === 'config') {
      problems.push(`${origin}: unknown setting`);
      continue;
    }
    const [key, spec] = known;
    if (spec.kind === 'list' && Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      values.set(key, { value: value.join(','), origin });
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      values.set(key, { value: String(value), origin });
    } else {
      problems.push(`${origin}: expected ${spec.kind === 'list' ? 'a list of strings' : 'a single value'}`);
    }
  }
  return values;
}

/** Collects flag and environment values by key, recording unknown flags and unknown MESHWARDEN_* variables. */
export function readRaw<K extends string>(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  specs: Record<K, OptionSpec>,
  problems: string[],
): Map<K, RawValue> {
  const values = new Map<K, RawValue>();
  const entries = Object.entries(specs) as [K, OptionSpec][];
  const knownEnv = new Set(entries.map(([, spec]) => spec.env));
  for (const name of Object.keys(env)) {
    if (name.startsWith('MESHWARDEN_') && !knownEnv.has(name)) problems.push(`${name}: unknown setting`);
  }
  for (const [key, spec] of entries) {
    const value = env[spec.env];
    if (value !== undefined) values.set(key, { value, origin: spec.env });
  }

  const byFlag = new Map(entries.map(([key, spec]) => [spec.flag, [key, spec] as const]));
  const options = Object.fromEntries(entries.map(([, spec]) => [spec.flag, { type: spec.kind === 'boolean' ? 'boolean' : 'string' }] as const));
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'positional') {
      problems.push(`unexpected argument "${token.value}"`);
      continue;
    }
    if (token.kind !== 'option') continue;
    const known = byFlag.get(token.name);
    if (!known) {
      problems.push(`${token.rawName}: unknown flag`);
      continue;
    }
    const [key, spec] = known;
    if (spec.kind === 'boolean') {
      values.set(key, { value: token.value ?? 'true', origin: token.rawName });
    } else if (token.value === undefined) {
      problems.push(`${token.rawName}: needs a value`);
    } else {
      values.set(key, { value: token.value, origin: token.rawName });
    }
  }
  return values;
}


function parseBoolean(text: string): boolean | undefined {
  const lower = text.toLowerCase();
  if (lower === 'true' || lower === '1' || lower === 'yes') return true;
  if (lower === 'false' || lower === '0' || lower === 'no') return false;
  return undefined;
}

function parseInteger(text: string, min: number, max: number): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= min && value <= max ? value : undefined;
}
