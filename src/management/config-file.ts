// opa-envoy-plugin's configuration file (OPA's format plus plugins.envoy_ext_authz_grpc), read as OPA reads it:
// ${VAR} substituted from the environment, then YAML. Every key is honoured or refused by name: a key this file
// does not list is a problem at start-up, never silently ignored.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** A service of `services`: where bundles are downloaded from. */
export interface ServiceSetting {
  readonly name: string;
  /** The service's base URL, without a trailing slash. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** credentials.bearer: a token, or a file read at every request (OPA re-reads it so rotation works). */
  readonly bearer?: { readonly token?: string; readonly tokenPath?: string; readonly scheme: string };
  /** credentials.client_tls: PEM file paths of the client certificate and key. */
  readonly clientTls?: { readonly cert: string; readonly privateKey: string; readonly passphrase?: string };
  /** tls.ca_cert: PEM file of the CAs trusted for the service (instead of the system's). */
  readonly caCert?: string;
  /** allow_insecure_tls: skip verifying the server's certificate (refused unless set explicitly to true). */
  readonly allowInsecureTls: boolean;
  /** response_header_timeout_seconds (OPA's default 10). */
  readonly responseHeaderTimeoutSeconds: number;
  /** type: oci makes the service an OCI registry (the distribution API); without it, a bundle server over HTTP. */
  readonly type?: 'oci';
}

/** An OCI bundle's resource, `<registry>/<repository>:<tag>` or `...@<digest>`, as OPA parses it (oras-go's ParseReference). */
export interface OciReference {
  /** The host named in the resource; OPA sends every request to the service's url, so it is only checked for its form. */
  readonly registry: string;
  readonly repository: string;
  /** The tag or the digest (`sha256:...`) to resolve. */
  readonly reference: string;
}

/** A verification key of `keys`. */
export interface KeySetting {
  readonly key: string;
  readonly algorithm: string;
  readonly scope?: string;
}

/** A bundle's `signing` (or the implicit one OPA derives when `keys` is set). */
export interface SigningSetting {
  readonly keyId?: string;
  readonly scope?: string;
  readonly excludeFiles: readonly string[];
  readonly keys: ReadonlyMap<string, KeySetting>;
}

export interface BundleSetting {
  readonly name: string;
  readonly service: ServiceSetting;
  /** The path below the service's URL (OPA's default bundles/<name>). */
  readonly resource: string;
  readonly persist: boolean;
  /** Bytes any one file of the bundle may hold (OPA's size_limit_bytes, default 1 GiB); meshwarden bounds the download by it too. */
  readonly sizeLimitBytes: number;
  readonly minDelaySeconds: number;
  readonly maxDelaySeconds: number;
  /** Ask the server to hold the request this long when nothing changed (OPA's long polling). */
  readonly longPollingTimeoutSeconds?: number;
  readonly signing?: SigningSetting;
  /** Set when the service is an OCI registry: the resource, parsed. */
  readonly oci?: OciReference;
}

/** plugins.envoy_ext_authz_grpc, as flag values config.ts validates like its own (addr is HOST:PORT already). */
export interface PluginSetting {
  readonly addr?: string;
  readonly path?: string;
  readonly dryRun?: boolean;
  readonly enableReflection?: boolean;
  readonly skipRequestBodyParse?: boolean;
  readonly protoDescriptor?: string;
  readonly grpcMaxRecvMsgSize?: number;
}

/** decision_logs, as OPA's decision log plugin takes it (v1/plugins/logs). */
export interface DecisionLogSetting {
  readonly service: ServiceSetting;
  /** Where batches are POSTed below the service's URL: /logs, or /logs/<partition_name>. */
  readonly resource: string;
  /** size: the buffer is bounded by bytes; event: by a count of events. */
  readonly bufferType: 'size' | 'event';
  readonly bufferSizeLimitBytes: number;
  readonly bufferSizeLimitEvents: number;
  /** The gzip body of one upload is at most this (OPA's default 32 KiB; 90 B..4 GiB). */
  readonly uploadSizeLimitBytes: number;
  readonly minDelaySeconds: number;
  readonly maxDelaySeconds: number;
  /** Events beyond this rate are dropped (and counted); undefined: no rate limit. */
  readonly maxDecisionsPerSecond?: number;
  /** The entrypoint whose result lists the erase and upsert rules (OPA's default system/log/mask). */
  readonly maskDecision: string;
  /** The entrypoint that, true, drops an event (OPA's default system/log/drop). */
  readonly dropDecision: string;
  /** console: true writes each event to the log too. */
  readonly console: boolean;
}

/** status, as OPA's status plugin takes it (v1/plugins/status). */
export interface StatusSetting {
  readonly service: ServiceSetting;
  /** /status/<partition_name> (OPA posts to /status/ without one). */
  readonly resource: string;
  /** console: true writes each status report to the log too. */
  readonly console: boolean;
}

export interface OpaConfig {
  readonly file: string;
  /** The file's document as read (after ${VAR} substitution): what opa.runtime().config shows, its secrets left out. */
  readonly document: Readonly<Record<string, unknown>>;
  readonly status?: StatusSetting;
  readonly labels: Readonly<Record<string, string>>;
  readonly bundles: readonly BundleSetting[];
  readonly decisionLogs?: DecisionLogSetting;
  readonly plugin: PluginSetting;
  /** persistence_directory (OPA's default .opa in the working directory): persisted bundles live below it. */
  readonly persistenceDirectory: string;
}

const DEFAULT_SIZE_LIMIT_BYTES = 1024 * 1024 * 1024;
const DEFAULT_KEY_ALGORITHM = 'RS256';
/** The algorithms jose verifies that OPA's bundle verification also accepts. */
export const SIGNING_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'EdDSA'] as const;

// OPA's own regular expression (?U:\${.*}): the shortest ${...}; a variable that is not set stays as written.
const ENV_REFERENCE = /\$\{(.*?)\}/g;

/** OPA's substitution of ${VAR} from the environment, on the file's text before it is parsed. */
export function substituteEnvironment(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(ENV_REFERENCE, (whole, name: string) => env[name] ?? whole);
}

/** Why a key OPA knows is refused: what meshwarden does instead, so the message says what to change. */
const UNSUPPORTED_TOP_LEVEL: Readonly<Record<string, string>> = {
  discovery: 'discovery bundles are not supported; list the bundles in the config file',
  bundle: 'the deprecated single "bundle" section is not supported; use "bundles"',
  default_decision: 'meshwarden decides with plugins.envoy_ext_authz_grpc.path only',
  default_authorization_decision: 'meshwarden serves no OPA REST API to authorize',
  caching: 'inter-query caching is not supported',
  nd_builtin_cache: 'the non-deterministic builtin cache is not supported',
  distributed_tracing: 'distributed tracing is not supported',
  metrics_export: 'metrics are served on /metrics of the admin endpoint (--admin-addr)',
  server: "meshwarden serves no OPA REST API; the admin endpoint is --admin-addr",
  storage: 'disk storage is not supported; persisted bundles are kept under persistence_directory',
  extra: 'not a key meshwarden knows',
};

const PLUGIN_NAME = 'envoy_ext_authz_grpc';

interface Reader {
  problems: string[];
}

/** Reads and validates the file; every problem is listed, each naming the key (`services.acme.url: ...`). */
export function readOpaConfigFile(path: string, env: NodeJS.ProcessEnv): { config: OpaConfig | undefined; problems: string[] } {
  const problems: string[] = [];
  let document: unknown;
  try {
    document = parseYaml(substituteEnvironment(readFileSync(path, 'utf8'), env));
  } catch (error) {
    return { config: undefined, problems: [`${path}: cannot read the OPA config file: ${(error as Error).message}`] };
  }
  if (document === null || document === undefined) document = {};
  if (!isMapping(document)) return { config: undefined, problems: [`${path}: the OPA config file must hold a mapping`] };
  const reader: Reader = { problems: [] };
  for (const key of Object.keys(document)) {
    if (key in UNSUPPORTED_TOP_LEVEL) reader.problems.push(`${key}: ${UNSUPPORTED_TOP_LEVEL[key]}`);
    else if (!['services', 'labels', 'bundles', 'keys', 'plugins', 'persistence_directory', 'decision_logs', 'status'].includes(key)) reader.problems.push(`${key}: not a key of OPA's configuration`);
  }
  const services = readServices(document['services'], reader);
  const keys = readKeys(document['keys'], reader);
  const labels = readLabels(document['labels'], reader);
  const bundles = readBundles(document['bundles'], services, keys, reader);
  const plugin = readPlugins(document['plugins'], reader);
  const decisionLogs = readDecisionLogs(document['decision_logs'], services, reader);
  const status = readStatus(document['status'], services, reader);
  const persistence = document['persistence_directory'];
  if (persistence !== undefined && (typeof persistence !== 'string' || persistence === '')) reader.problems.push('persistence_directory: must be a directory path');
  problems.push(...reader.problems.map((problem) => `${path}: ${problem}`));
  if (problems.length > 0) return { config: undefined, problems };
  return {
    config: Object.freeze({
      file: path,
      document,
      labels,
      bundles,
      ...(decisionLogs === undefined ? {} : { decisionLogs }),
      ...(status === undefined ? {} : { status }),
      plugin,
      persistenceDirectory: typeof persistence === 'string' ? persistence : '.opa',
    }),
    problems,
  };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Lists each key of `entry` outside `allowed` (or refused with its reason in `refused`). */
function checkKeys(entry: Record<string, unknown>, where: string, allowed: readonly string[], reader: Reader, refused: Readonly<Record<string, string>> = {}): void {
  for (const key of Object.keys(entry)) {
    if (key in refused) reader.problems.push(`${where}.${key}: ${refused[key]}`);
    else if (!allowed.includes(key)) reader.problems.push(`${where}.${key}: not a key meshwarden knows here (it takes ${allowed.join(', ')})`);
  }
}

function readString(entry: Record<string, unknown>, key: string, where: string, reader: Reader): string | undefined {
  const value = entry[key];
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value !== '') return value;
  reader.problems.push(`${where}.${key}: must be a non-empty string`);
  return undefined;
}

function readBoolean(entry: Record<string, unknown>, key: string, where: string, reader: Reader): boolean | undefined {
  const value = entry[key];
  if (value === undefined) return undefined;
  // Substitution happens on the text, so "${FLAG}" may arrive as the string "true".
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  reader.problems.push(`${where}.${key}: must be true or false`);
  return undefined;
}

function readInteger(entry: Record<string, unknown>, key: string, where: string, reader: Reader, min: number, max: number): number | undefined {
  const value = entry[key];
  if (value === undefined) return undefined;
  const number = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
  if (typeof number === 'number' && Number.isInteger(number) && number >= min && number <= max) return number;
  reader.problems.push(`${where}.${key}: must be a whole number from ${min} to ${max}`);
  return undefined;
}

const REFUSED_CREDENTIALS: Readonly<Record<string, string>> = {
  oauth2: 'OAuth2 client credentials are not supported; use bearer or client_tls',
  s3_signing: 'AWS S3 signing is not supported; use bearer or client_tls',
  gcp_metadata: 'GCP metadata tokens are not supported; use bearer',
  azure_managed_identity: 'Azure managed identity tokens are not supported; use bearer',
  plugin: 'credential plugins are Go code OPA links in; meshwarden cannot load them',
};

/** `services` as OPA takes it: a mapping name → service, or a list of services each with a name. */
function readServices(value: unknown, reader: Reader): Map<string, ServiceSetting> {
  const services = new Map<string, ServiceSetting>();
  if (value === undefined) return services;
  let entries: [string, unknown][];
  if (Array.isArray(value)) {
    entries = value.map((entry: unknown, index) => [isMapping(entry) && typeof entry['name'] === 'string' ? entry['name'] : `[${index}]`, entry]);
  } else if (isMapping(value)) {
    entries = Object.entries(value);
  } else {
    reader.problems.push('services: must map each service name to its url and credentials');
    return services;
  }
  for (const [name, entry] of entries) {
    const where = `services.${name}`;
    if (!isMapping(entry)) {
      reader.problems.push(`${where}: must be a mapping with url`);
      continue;
    }
    checkKeys(entry, where, ['name', 'url', 'headers', 'credentials', 'tls', 'allow_insecure_tls', 'response_header_timeout_seconds', 'type'], reader);
    const type = readString(entry, 'type', where, reader);
    // OPA compares the type in lower case and treats any other value as HTTP; a typo would then go unnoticed.
    if (type !== undefined && type.toLowerCase() !== 'oci') reader.problems.push(`${where}.type: "${type}" is not a service type (oci is the only one; leave type out for an HTTP bundle server)`);
    const url = readString(entry, 'url', where, reader);
    let parsed: URL | undefined;
    if (url === undefined) reader.problems.push(`${where}.url: is required`);
    else {
      try {
        parsed = new URL(url);
        if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http or https');
      } catch {
        reader.problems.push(`${where}.url: "${url}" is not an http(s) URL`);
        parsed = undefined;
      }
    }
    const headers: Record<string, string> = {};
    const rawHeaders = entry['headers'];
    if (rawHeaders !== undefined) {
      if (!isMapping(rawHeaders)) reader.problems.push(`${where}.headers: must map header names to values`);
      else
        for (const [header, headerValue] of Object.entries(rawHeaders)) {
          if (typeof headerValue !== 'string' || /[\r\n]/.test(headerValue) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) reader.problems.push(`${where}.headers.${header}: must be a header name with a one-line string value`);
          else headers[header] = headerValue;
        }
    }
    let bearer: ServiceSetting['bearer'];
    let clientTls: ServiceSetting['clientTls'];
    const credentials = entry['credentials'];
    if (credentials !== undefined) {
      if (!isMapping(credentials)) reader.problems.push(`${where}.credentials: must be a mapping`);
      else {
        checkKeys(credentials, `${where}.credentials`, ['bearer', 'client_tls'], reader, REFUSED_CREDENTIALS);
        const methods = Object.keys(credentials);
        if (methods.length > 1) reader.problems.push(`${where}.credentials: ${methods.join(', ')}: a maximum of one credential method must be specified (as OPA)`);
        const rawBearer = credentials['bearer'];
        if (rawBearer !== undefined) {
          if (!isMapping(rawBearer)) reader.problems.push(`${where}.credentials.bearer: must be a mapping with token or token_path`);
          else {
            checkKeys(rawBearer, `${where}.credentials.bearer`, ['token', 'token_path', 'scheme'], reader);
            const token = readString(rawBearer, 'token', `${where}.credentials.bearer`, reader);
            const tokenPath = readString(rawBearer, 'token_path', `${where}.credentials.bearer`, reader);
            if ((token === undefined) === (tokenPath === undefined)) reader.problems.push(`${where}.credentials.bearer: specify exactly one of token and token_path`);
            bearer = { ...(token === undefined ? {} : { token }), ...(tokenPath === undefined ? {} : { tokenPath }), scheme: readString(rawBearer, 'scheme', `${where}.credentials.bearer`, reader) ?? 'Bearer' };
          }
        }
        const rawTls = credentials['client_tls'];
        if (rawTls !== undefined) {
          if (!isMapping(rawTls)) reader.problems.push(`${where}.credentials.client_tls: must be a mapping with cert and private_key`);
          else {
            const tlsWhere = `${where}.credentials.client_tls`;
            checkKeys(rawTls, tlsWhere, ['cert', 'private_key', 'private_key_passphrase'], reader, {
              ca_cert: 'deprecated in OPA; set services.<name>.tls.ca_cert',
              system_ca_required: 'deprecated in OPA; set services.<name>.tls.system_ca_required',
              cert_reread_interval_seconds: 'the certificate is read once at start-up; restart to rotate it',
            });
            const cert = readString(rawTls, 'cert', tlsWhere, reader);
            const privateKey = readString(rawTls, 'private_key', tlsWhere, reader);
            const passphrase = readString(rawTls, 'private_key_passphrase', tlsWhere, reader);
            if (cert === undefined || privateKey === undefined) reader.problems.push(`${tlsWhere}: needs cert and private_key`);
            else clientTls = { cert, privateKey, ...(passphrase === undefined ? {} : { passphrase }) };
          }
        }
      }
    }
    let caCert: string | undefined;
    const tls = entry['tls'];
    if (tls !== undefined) {
      if (!isMapping(tls)) reader.problems.push(`${where}.tls: must be a mapping with ca_cert`);
      else {
        checkKeys(tls, `${where}.tls`, ['ca_cert', 'system_ca_required'], reader);
        caCert = readString(tls, 'ca_cert', `${where}.tls`, reader);
        const systemRequired = readBoolean(tls, 'system_ca_required', `${where}.tls`, reader);
        if (systemRequired === true) reader.problems.push(`${where}.tls.system_ca_required: trusting the system's CAs beside ca_cert is not supported; put every CA in ca_cert`);
      }
    }
    const insecure = readBoolean(entry, 'allow_insecure_tls', where, reader) ?? false;
    if (insecure && parsed?.protocol !== 'https:') reader.problems.push(`${where}.allow_insecure_tls: only means something for an https url`);
    const timeout = readInteger(entry, 'response_header_timeout_seconds', where, reader, 0, 3600) ?? 10;
    if (parsed !== undefined) {
      services.set(name, Object.freeze({
        name,
        url: url!.replace(/\/+$/, ''),
        headers: Object.freeze(headers),
        ...(bearer === undefined ? {} : { bearer }),
        ...(clientTls === undefined ? {} : { clientTls }),
        ...(caCert === undefined ? {} : { caCert }),
        allowInsecureTls: insecure,
        responseHeaderTimeoutSeconds: timeout,
        ...(type?.toLowerCase() === 'oci' ? { type: 'oci' as const } : {}),
      }));
    }
  }
  return services;
}

function readKeys(value: unknown, reader: Reader): Map<string, KeySetting> {
  const keys = new Map<string, KeySetting>();
  if (value === undefined) return keys;
  if (!isMapping(value)) {
    reader.problems.push('keys: must map each key id to its key and algorithm');
    return keys;
  }
  for (const [id, entry] of Object.entries(value)) {
    const where = `keys.${id}`;
    if (!isMapping(entry)) {
      reader.problems.push(`${where}: must be a mapping with key and algorithm`);
      continue;
    }
    checkKeys(entry, where, ['key', 'algorithm', 'scope'], reader, { private_key: 'signing keys are for opa build; meshwarden only verifies' });
    const key = readString(entry, 'key', where, reader);
    const algorithm = readString(entry, 'algorithm', where, reader) ?? DEFAULT_KEY_ALGORITHM;
    const scope = readString(entry, 'scope', where, reader);
    if (!(SIGNING_ALGORITHMS as readonly string[]).includes(algorithm)) reader.problems.push(`${where}.algorithm: "${algorithm}" is not one of ${SIGNING_ALGORITHMS.join(', ')}`);
    if (key === undefined) reader.problems.push(`${where}.key: is required (a PEM public key, or the secret for HS*)`);
    else keys.set(id, Object.freeze({ key, algorithm, ...(scope === undefined ? {} : { scope }) }));
  }
  return keys;
}

function readLabels(value: unknown, reader: Reader): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (!isMapping(value) || !Object.values(value).every((item) => typeof item === 'string')) {
    reader.problems.push('labels: must map names to strings');
    return Object.freeze({});
  }
  return Object.freeze({ ...(value as Record<string, string>) });
}

const REFUSED_BUNDLE_KEYS: Readonly<Record<string, string>> = {
  trigger: 'only periodic polling is supported (the default)',
};

function readBundles(value: unknown, services: Map<string, ServiceSetting>, keys: Map<string, KeySetting>, reader: Reader): BundleSetting[] {
  if (value === undefined) return [];
  if (!isMapping(value)) {
    reader.problems.push('bundles: must map each bundle name to its service and resource');
    return [];
  }
  const bundles: BundleSetting[] = [];
  for (const [name, entry] of Object.entries(value)) {
    const where = `bundles.${name}`;
    if (!isMapping(entry)) {
      reader.problems.push(`${where}: must be a mapping with service and resource`);
      continue;
    }
    checkKeys(entry, where, ['service', 'resource', 'persist', 'size_limit_bytes', 'polling', 'signing'], reader, REFUSED_BUNDLE_KEYS);
    const serviceName = readString(entry, 'service', where, reader);
    // OPA's default: the first service listed.
    const service = serviceName === undefined ? services.values().next().value : services.get(serviceName);
    if (service === undefined) reader.problems.push(`${where}.service: ${serviceName === undefined ? 'no service is configured' : `service "${serviceName}" is not in services`}`);
    const resource = readString(entry, 'resource', where, reader) ?? `bundles/${name}`;
    if (resource.startsWith('file://')) reader.problems.push(`${where}.resource: file:// bundles are not supported; serve a local bundle with --bundle`);
    let oci: OciReference | undefined;
    if (service?.type === 'oci') {
      const parsed = parseOciReference(resource);
      if (typeof parsed === 'string') reader.problems.push(`${where}.resource: "${resource}" ${parsed} (service ${service.name} is an OCI registry: <registry>/<repository>:<tag>, as OPA takes it)`);
      else oci = parsed;
    }
    const persist = readBoolean(entry, 'persist', where, reader) ?? false;
    const sizeLimit = readInteger(entry, 'size_limit_bytes', where, reader, 0, Number.MAX_SAFE_INTEGER);
    let minDelay = 60;
    let maxDelay = 120;
    let longPolling: number | undefined;
    const polling = entry['polling'];
    if (polling !== undefined) {
      if (!isMapping(polling)) reader.problems.push(`${where}.polling: must be a mapping`);
      else {
        checkKeys(polling, `${where}.polling`, ['min_delay_seconds', 'max_delay_seconds', 'long_polling_timeout_seconds'], reader);
        const min = readInteger(polling, 'min_delay_seconds', `${where}.polling`, reader, 0, 86_400);
        const max = readInteger(polling, 'max_delay_seconds', `${where}.polling`, reader, 0, 86_400);
        // As OPA: both or neither, and max >= min.
        if ((min === undefined) !== (max === undefined)) reader.problems.push(`${where}.polling: set both min_delay_seconds and max_delay_seconds, or neither`);
        else if (min !== undefined && max !== undefined) {
          if (max < min) reader.problems.push(`${where}.polling: max_delay_seconds must be >= min_delay_seconds`);
          minDelay = min;
          maxDelay = max;
        }
        longPolling = readInteger(polling, 'long_polling_timeout_seconds', `${where}.polling`, reader, 1, 3600);
        // OPA's OCI downloader never long-polls (a registry has no such API): refused rather than ignored.
        if (longPolling !== undefined && service?.type === 'oci') reader.problems.push(`${where}.polling.long_polling_timeout_seconds: a registry cannot long-poll (service ${service.name} is type oci); set min_delay_seconds and max_delay_seconds`);
      }
    }
    const signing = readSigning(entry['signing'], `${where}.signing`, keys, reader);
    if (service !== undefined) {
      bundles.push(Object.freeze({
        name,
        service,
        resource,
        persist,
        sizeLimitBytes: sizeLimit === undefined || sizeLimit <= 0 ? DEFAULT_SIZE_LIMIT_BYTES : sizeLimit,
        minDelaySeconds: minDelay,
        maxDelaySeconds: maxDelay,
        ...(longPolling === undefined ? {} : { longPollingTimeoutSeconds: longPolling }),
        ...(signing === undefined ? {} : { signing }),
        ...(oci === undefined ? {} : { oci }),
      }));
    }
  }
  return bundles;
}

// oras-go's rules for a reference (registry.ParseReference), which OPA's OCI downloader applies to the resource.
const OCI_REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*$/;
const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const OCI_DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** `<registry>/<repository>:<tag>`, `<registry>/<repository>@<digest>` (a tag before @ is dropped, as oras-go does); else why not. */
export function parseOciReference(resource: string): OciReference | string {
  const slash = resource.indexOf('/');
  if (slash <= 0) return 'names no registry and repository';
  const registry = resource.slice(0, slash);
  const path = resource.slice(slash + 1);
  let repository: string;
  let reference: string;
  const at = path.indexOf('@');
  if (at !== -1) {
    repository = path.slice(0, at).split(':')[0]!;
    reference = path.slice(at + 1);
    if (!OCI_DIGEST.test(reference)) return `has "${reference}", which is not a sha256 or sha512 digest`;
  } else {
    const colon = path.indexOf(':');
    if (colon === -1) return 'names no tag or digest';
    repository = path.slice(0, colon);
    reference = path.slice(colon + 1);
    if (!OCI_TAG.test(reference)) return `has "${reference}", which is not a tag`;
  }
  try {
    if (new URL(`dummy://${registry}`).host !== registry.toLowerCase()) throw new Error('not a host');
  } catch {
    return `has "${registry}", which is not a registry host`;
  }
  if (!OCI_REPOSITORY.test(repository)) return `has "${repository}", which is not a repository name (lower case, digits and . _ - /)`;
  return Object.freeze({ registry, repository, reference });
}

/** A bundle's signing section; with `keys` set and no section, OPA verifies with those keys all the same. */
function readSigning(value: unknown, where: string, keys: Map<string, KeySetting>, reader: Reader): SigningSetting | undefined {
  if (value === undefined) return keys.size > 0 ? Object.freeze({ excludeFiles: [], keys }) : undefined;
  if (!isMapping(value)) {
    reader.problems.push(`${where}: must be a mapping with keyid`);
    return undefined;
  }
  checkKeys(value, where, ['keyid', 'scope', 'exclude_files'], reader, { plugin: 'verification plugins are Go code OPA links in; meshwarden cannot load them' });
  const keyId = readString(value, 'keyid', where, reader);
  const scope = readString(value, 'scope', where, reader);
  const exclude = value['exclude_files'] ?? [];
  if (!Array.isArray(exclude) || !exclude.every((item) => typeof item === 'string')) reader.problems.push(`${where}.exclude_files: must be a list of file patterns`);
  if (keyId !== undefined && !keys.has(keyId)) reader.problems.push(`${where}.keyid: key id ${keyId} not found in keys`);
  if (keys.size === 0) reader.problems.push(`${where}: no keys are configured to verify with`);
  return Object.freeze({
    ...(keyId === undefined ? {} : { keyId }),
    ...(scope === undefined ? {} : { scope }),
    excludeFiles: Object.freeze(Array.isArray(exclude) ? (exclude as string[]) : []),
    keys,
  });
}

function readStatus(value: unknown, services: Map<string, ServiceSetting>, reader: Reader): StatusSetting | undefined {
  if (value === undefined || value === null) return undefined;
  const where = 'status';
  if (!isMapping(value)) {
    reader.problems.push(`${where}: must be a mapping with service`);
    return undefined;
  }
  checkKeys(value, where, ['service', 'partition_name', 'console'], reader, {
    plugin: 'status plugins are Go code OPA links in; meshwarden cannot load them',
    prometheus: "meshwarden's metrics are on /metrics of the admin endpoint already",
    prometheus_config: "meshwarden's metrics are on /metrics of the admin endpoint already",
    trigger: 'only periodic status reports are supported (the default)',
  });
  const console = readBoolean(value, 'console', where, reader) ?? false;
  const serviceName = readString(value, 'service', where, reader);
  const partition = readString(value, 'partition_name', where, reader);
  const service = serviceName === undefined ? services.values().next().value : services.get(serviceName);
  if (service === undefined) {
    reader.problems.push(`${where}.service: ${serviceName === undefined ? 'no service is configured to report to' : `service "${serviceName}" is not in services`}`);
    return undefined;
  }
  if (service.type === 'oci') reader.problems.push(`${where}.service: ${service.name} is an OCI registry; status reports go to an HTTP service`);
  return Object.freeze({ service, resource: `/status/${partition ?? ''}`, console });
}

const DEFAULT_BUFFER_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** decision_logs; OPA's defaults but one: an unlimited size buffer is bounded (64 MiB) so no caller can grow it without end. */
function readDecisionLogs(value: unknown, services: Map<string, ServiceSetting>, reader: Reader): DecisionLogSetting | undefined {
  if (value === undefined || value === null) return undefined;
  const where = 'decision_logs';
  if (!isMapping(value)) {
    reader.problems.push(`${where}: must be a mapping with service and reporting`);
    return undefined;
  }
  checkKeys(value, where, ['service', 'resource', 'partition_name', 'reporting', 'mask_decision', 'drop_decision', 'console'], reader, {
    plugin: 'decision log plugins are Go code OPA links in; meshwarden cannot load them',
    request_context: 'request_context headers are not supported; the headers are in the event input',
    nd_builtin_cache: 'the non-deterministic builtin cache is not supported',
  });
  const console = readBoolean(value, 'console', where, reader) ?? false;
  const serviceName = readString(value, 'service', where, reader);
  // As OPA: the first service is the default unless console is on (then OPA logs to the console only).
  const service = serviceName === undefined ? (console ? undefined : services.values().next().value) : services.get(serviceName);
  if (service === undefined) {
    // OPA takes console-only decision logs; meshwarden's decision line is already on stdout, so a service is needed.
    reader.problems.push(`${where}.service: ${serviceName === undefined ? 'no service is configured to upload to' : `service "${serviceName}" is not in services`}${console ? ' (console-only decision logs: meshwarden writes a decision line per Check anyway; leave decision_logs out)' : ''}`);
  }
  const partition = readString(value, 'partition_name', where, reader);
  const resource = partition !== undefined ? `/logs/${partition}` : (readString(value, 'resource', where, reader) ?? '/logs');
  const reporting = value['reporting'] ?? {};
  const rWhere = `${where}.reporting`;
  let setting: Omit<DecisionLogSetting, 'service'> = {
    resource,
    bufferType: 'size',
    bufferSizeLimitBytes: DEFAULT_BUFFER_SIZE_LIMIT_BYTES,
    bufferSizeLimitEvents: 10_000,
    uploadSizeLimitBytes: 32_768,
    minDelaySeconds: 300,
    maxDelaySeconds: 600,
    maskDecision: readDataPath(value, 'mask_decision', where, reader) ?? 'system/log/mask',
    dropDecision: readDataPath(value, 'drop_decision', where, reader) ?? 'system/log/drop',
    console,
  };
  if (!isMapping(reporting)) reader.problems.push(`${rWhere}: must be a mapping`);
  else {
    checkKeys(reporting, rWhere, ['buffer_type', 'buffer_size_limit_bytes', 'buffer_size_limit_events', 'upload_size_limit_bytes', 'min_delay_seconds', 'max_delay_seconds', 'max_decisions_per_second'], reader, {
      trigger: 'only periodic uploads are supported (the default)',
    });
    const bufferType = reporting['buffer_type'] ?? 'size';
    if (bufferType !== 'size' && bufferType !== 'event') reader.problems.push(`${rWhere}.buffer_type: "${String(bufferType)}" is not size or event`);
    const bytes = readInteger(reporting, 'buffer_size_limit_bytes', rWhere, reader, 1, Number.MAX_SAFE_INTEGER);
    const events = readInteger(reporting, 'buffer_size_limit_events', rWhere, reader, 1, 10_000_000);
    if (bufferType === 'event' && bytes !== undefined) reader.problems.push(`${rWhere}.buffer_size_limit_bytes: isn't supported for the event buffer type`);
    if (bufferType === 'size' && events !== undefined) reader.problems.push(`${rWhere}.buffer_size_limit_events: isn't supported for the size buffer type`);
    const upload = readInteger(reporting, 'upload_size_limit_bytes', rWhere, reader, 0, Number.MAX_SAFE_INTEGER);
    const min = readInteger(reporting, 'min_delay_seconds', rWhere, reader, 0, 86_400);
    const max = readInteger(reporting, 'max_delay_seconds', rWhere, reader, 0, 86_400);
    if ((min === undefined) !== (max === undefined)) reader.problems.push(`${rWhere}: set both min_delay_seconds and max_delay_seconds, or neither`);
    else if (min !== undefined && max !== undefined && max < min) reader.problems.push(`${rWhere}: max_delay_seconds must be >= min_delay_seconds`);
    const rate = reporting['max_decisions_per_second'];
    if (rate !== undefined && (typeof rate !== 'number' || !(rate > 0))) reader.problems.push(`${rWhere}.max_decisions_per_second: must be a number above 0`);
    if (rate !== undefined && bytes !== undefined) reader.problems.push(`${rWhere}: specify either buffer_size_limit_bytes or max_decisions_per_second`);
    setting = {
      ...setting,
      bufferType: bufferType === 'event' ? 'event' : 'size',
      ...(bytes === undefined ? {} : { bufferSizeLimitBytes: bytes }),
      ...(events === undefined ? {} : { bufferSizeLimitEvents: events }),
      // As OPA: clamped to 90 bytes..4 GiB rather than refused.
      ...(upload === undefined ? {} : { uploadSizeLimitBytes: Math.min(4_294_967_296, Math.max(90, upload)) }),
      ...(min === undefined || max === undefined ? {} : { minDelaySeconds: min, maxDelaySeconds: max }),
      ...(typeof rate === 'number' && rate > 0 ? { maxDecisionsPerSecond: rate } : {}),
    };
  }
  if (service === undefined) return undefined;
  if (service.type === 'oci') reader.problems.push(`${where}.service: ${service.name} is an OCI registry; decision logs go to an HTTP service`);
  return Object.freeze({ ...setting, service });
}

/** A data path as OPA writes mask_decision (`/system/log/mask` or `system.log.mask`) → the entrypoint `system/log/mask`. */
function readDataPath(entry: Record<string, unknown>, key: string, where: string, reader: Reader): string | undefined {
  const text = readString(entry, key, where, reader);
  if (text === undefined) return undefined;
  const path = text.replace(/^data[./]/, '').replace(/\./g, '/').replace(/^\/+|\/+$/g, '');
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/.test(path)) {
    reader.problems.push(`${where}.${key}: "${text}" is not a data path such as /system/log/mask`);
    return undefined;
  }
  return path;
}

const REFUSED_PLUGIN_KEYS: Readonly<Record<string, string>> = {
  query: 'deprecated in opa-envoy-plugin; set path',
  'grpc-max-send-msg-size': 'not supported: responses are sent without a size limit',
  'enable-performance-metrics': 'not supported: /metrics has meshwarden_check_duration_seconds',
  'grpc-request-duration-seconds-buckets': 'not supported: /metrics has meshwarden_check_duration_seconds with fixed buckets',
};

function readPlugins(value: unknown, reader: Reader): PluginSetting {
  if (value === undefined) return {};
  if (!isMapping(value)) {
    reader.problems.push(`plugins: must be a mapping with ${PLUGIN_NAME}`);
    return {};
  }
  for (const name of Object.keys(value)) {
    if (name !== PLUGIN_NAME) reader.problems.push(`plugins.${name}: meshwarden is the ${PLUGIN_NAME} plugin only; other plugins are not supported`);
  }
  const entry = value[PLUGIN_NAME];
  if (entry === undefined || entry === null) return {};
  const where = `plugins.${PLUGIN_NAME}`;
  if (!isMapping(entry)) {
    reader.problems.push(`${where}: must be a mapping`);
    return {};
  }
  checkKeys(entry, where, ['addr', 'path', 'dry-run', 'enable-reflection', 'skip-request-body-parse', 'proto-descriptor', 'grpc-max-recv-msg-size'], reader, REFUSED_PLUGIN_KEYS);
  const addr = readString(entry, 'addr', where, reader);
  const path = readString(entry, 'path', where, reader);
  const dryRun = readBoolean(entry, 'dry-run', where, reader);
  const enableReflection = readBoolean(entry, 'enable-reflection', where, reader);
  const skipRequestBodyParse = readBoolean(entry, 'skip-request-body-parse', where, reader);
  const protoDescriptor = readString(entry, 'proto-descriptor', where, reader);
  const grpcMaxRecvMsgSize = readInteger(entry, 'grpc-max-recv-msg-size', where, reader, 1024, 1024 * 1024 * 1024);
  return Object.freeze({
    // opa-envoy-plugin's ":9191" (Go's every interface) is HOST:PORT for meshwarden.
    ...(addr === undefined ? {} : { addr: addr.startsWith(':') ? `0.0.0.0${addr}` : addr }),
    ...(path === undefined ? {} : { path }),
    ...(dryRun === undefined ? {} : { dryRun }),
    ...(enableReflection === undefined ? {} : { enableReflection }),
    ...(skipRequestBodyParse === undefined ? {} : { skipRequestBodyParse }),
    ...(protoDescriptor === undefined ? {} : { protoDescriptor }),
    ...(grpcMaxRecvMsgSize === undefined ? {} : { grpcMaxRecvMsgSize }),
  });
}

/** opa-envoy-plugin's defaults where meshwarden's differ: its decision path, its 4 MiB receive limit, no reflection. */
export const PLUGIN_DEFAULTS = Object.freeze({ path: 'envoy/authz/allow', grpcMaxRecvMsgSize: 4 * 1024 * 1024, enableReflection: false, addr: '0.0.0.0:9191' });
