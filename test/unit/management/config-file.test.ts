// src/management/config-file.ts and its place in parseServeConfig: OPA's format as OPA reads it (${VAR}
// substitution, defaults), every key honoured or refused by name, the plugin section as serve's settings.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';
import { readOpaConfigFile, substituteEnvironment } from '../../../src/management/config-file.js';

const dir = mkdtempSync(join(tmpdir(), 'meshwarden-opa-config-'));
let count = 0;

function configFile(text: string): string {
  const file = join(dir, `config-${++count}.yaml`);
  writeFileSync(file, text);
  return file;
}

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  return readOpaConfigFile(configFile(text), env).problems.map((problem) => problem.replace(/^[^:]+\.yaml: /, ''));
}

const MINIMAL = `services:
  acme:
    url: https://bundles.example.com/v1/
bundles:
  authz:
    service: acme
`;

describe('substituteEnvironment (OPA: ${VAR} from the environment; an unset one stays as written)', () => {
  it.each([
    ['url: ${URL}', { URL: 'http://x' }, 'url: http://x'],
    ['token: "${A}${B}"', { A: '1', B: '2' }, 'token: "12"'],
    ['token: ${UNSET}', {}, 'token: ${UNSET}'],
    ['empty: "${EMPTY}"', { EMPTY: '' }, 'empty: ""'],
    ['$HOME stays', { HOME: '/root' }, '$HOME stays'],
  ])('%s', (text, env, expected) => {
    expect(substituteEnvironment(text, env)).toBe(expected);
  });
});

describe('readOpaConfigFile', () => {
  it("takes OPA's defaults: the first service, bundles/<name>, 60..120 s polling, 1 GiB, .opa", () => {
    const { config, problems } = readOpaConfigFile(configFile(MINIMAL), {});
    expect(problems).toEqual([]);
    expect(config!.bundles).toEqual([
      expect.objectContaining({ name: 'authz', resource: 'bundles/authz', minDelaySeconds: 60, maxDelaySeconds: 120, persist: false, sizeLimitBytes: 1024 ** 3 }),
    ]);
    expect(config!.bundles[0]!.service).toMatchObject({ name: 'acme', url: 'https://bundles.example.com/v1', allowInsecureTls: false, responseHeaderTimeoutSeconds: 10 });
    expect(config!.persistenceDirectory).toBe('.opa');
  });

  it('reads services as a list too, with headers, bearer token, client TLS and CA, labels, keys and signing', () => {
    const { config, problems } = readOpaConfigFile(
      configFile(`services:
  - name: acme
    url: https://bundles.example.com
    headers: { x-team: payments }
    credentials:
      bearer: { token: "\${TOKEN}", scheme: Token }
    tls: { ca_cert: /ca.pem }
  - name: mtls
    url: https://mtls.example.com
    credentials:
      client_tls: { cert: /c.pem, private_key: /k.pem }
labels: { region: eu, app: checkout }
keys:
  k1: { key: "secret", algorithm: HS256, scope: write }
bundles:
  authz:
    resource: authz.tar.gz
    persist: true
    size_limit_bytes: 5000
    polling: { min_delay_seconds: 5, max_delay_seconds: 10, long_polling_timeout_seconds: 30 }
    signing: { keyid: k1, exclude_files: ["*.txt"] }
`),
      { TOKEN: 't0k3n' },
    );
    expect(problems).toEqual([]);
    expect(config!.labels).toEqual({ region: 'eu', app: 'checkout' });
    const [bundle] = config!.bundles;
    expect(bundle!.service).toMatchObject({ headers: { 'x-team': 'payments' }, bearer: { token: 't0k3n', scheme: 'Token' }, caCert: '/ca.pem' });
    expect(bundle).toMatchObject({ resource: 'authz.tar.gz', persist: true, sizeLimitBytes: 5000, minDelaySeconds: 5, maxDelaySeconds: 10, longPollingTimeoutSeconds: 30 });
    expect(bundle!.signing).toMatchObject({ keyId: 'k1', excludeFiles: ['*.txt'] });
    expect(bundle!.signing!.keys.get('k1')).toEqual({ key: 'secret', algorithm: 'HS256', scope: 'write' });
  });

  it('verifies with the keys when they are set and the bundle has no signing section (as OPA does)', () => {
    const { config } = readOpaConfigFile(configFile(`${MINIMAL}keys:\n  k1: { key: "pem" }\n`), {});
    expect(config!.bundles[0]!.signing).toMatchObject({ excludeFiles: [] });
    expect(config!.bundles[0]!.signing!.keys.get('k1')).toEqual({ key: 'pem', algorithm: 'RS256' });
  });

  it('names every unknown or unsupported key and says why, never ignoring one', () => {
    expect(
      problemsOf(`services:
  acme:
    url: https://x
    type: s3
    credentials: { oauth2: { token_url: https://t } }
    colour: blue
bundles:
  authz: { service: acme, trigger: manual, polling: { min_delay_seconds: 1 } }
decision_logs: { service: acme, request_context: { http: { headers: [a] } }, reporting: { trigger: manual } }
status: { service: acme, prometheus: true }
discovery: { name: d }
unknown_thing: 1
plugins:
  envoy_ext_authz_grpc: { addr: ":9191", query: data.x, grpc-max-send-msg-size: 5, shiny: true }
  other_plugin: {}
`),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^services\.acme\.type: "s3" is not a service type \(oci is the only one/),
        expect.stringMatching(/^services\.acme\.credentials\.oauth2: OAuth2 client credentials are not supported/),
        expect.stringMatching(/^services\.acme\.colour: not a key meshwarden knows here/),
        expect.stringMatching(/^bundles\.authz\.trigger: only periodic polling/),
        'bundles.authz.polling: set both min_delay_seconds and max_delay_seconds, or neither',
        expect.stringMatching(/^decision_logs\.request_context: request_context headers are not supported/),
        'decision_logs.reporting.trigger: only periodic uploads are supported (the default)',
        expect.stringMatching(/^status\.prometheus: meshwarden's metrics are on \/metrics/),
        expect.stringMatching(/^discovery: discovery bundles are not supported/),
        "unknown_thing: not a key of OPA's configuration",
        'plugins.envoy_ext_authz_grpc.query: deprecated in opa-envoy-plugin; set path',
        expect.stringMatching(/^plugins\.envoy_ext_authz_grpc\.grpc-max-send-msg-size: not supported/),
        expect.stringMatching(/^plugins\.envoy_ext_authz_grpc\.shiny: not a key meshwarden knows here/),
        expect.stringMatching(/^plugins\.other_plugin: meshwarden is the envoy_ext_authz_grpc plugin only/),
      ]),
    );
  });

  it.each([
    ['a service that is not listed', 'services: { a: { url: "https://x" } }\nbundles: { b: { service: nope } }\n', 'bundles.b.service: service "nope" is not in services'],
    ['a URL that is not http(s)', 'services: { a: { url: "ftp://x" } }\n', 'services.a.url: "ftp://x" is not an http(s) URL'],
    ['max below min', 'services: { a: { url: "https://x" } }\nbundles: { b: { polling: { min_delay_seconds: 10, max_delay_seconds: 5 } } }\n', 'bundles.b.polling: max_delay_seconds must be >= min_delay_seconds'],
    ['an unknown keyid', 'services: { a: { url: "https://x" } }\nkeys: { k: { key: p } }\nbundles: { b: { signing: { keyid: other } } }\n', 'bundles.b.signing.keyid: key id other not found in keys'],
    ['an algorithm jose cannot verify', 'keys: { k: { key: p, algorithm: XX1 } }\n', 'keys.k.algorithm: "XX1" is not one of'],
    ['both token and token_path', 'services: { a: { url: "https://x", credentials: { bearer: { token: t, token_path: /p } } } }\n', 'services.a.credentials.bearer: specify exactly one of token and token_path'],
    ['two credential methods', 'services: { a: { url: "https://x", credentials: { bearer: { token: t }, client_tls: { cert: /c, private_key: /k } } } }\n', 'services.a.credentials: bearer, client_tls: a maximum of one credential method'],
    ['allow_insecure_tls on http', 'services: { a: { url: "http://x", allow_insecure_tls: true } }\n', 'services.a.allow_insecure_tls: only means something for an https url'],
    ['a file:// resource', 'services: { a: { url: "https://x" } }\nbundles: { b: { resource: "file:///b.tar.gz" } }\n', 'bundles.b.resource: file:// bundles are not supported'],
  ])('refuses %s', (_name, text, expected) => {
    expect(problemsOf(text).join('\n')).toContain(expected);
  });

  it("reads an OCI registry service and its bundle's <registry>/<repository>:<tag> (OPA's format)", () => {
    const { config, problems } = readOpaConfigFile(
      configFile(`services:
  ghcr:
    url: https://ghcr.io
    type: OCI
    credentials: { bearer: { token: t0k3n } }
bundles:
  authz:
    service: ghcr
    resource: ghcr.io/acme/policies/authz:1.0.0
  pinned:
    service: ghcr
    resource: ghcr.io/acme/data:ignored@sha256:${'a'.repeat(64)}
`),
      {},
    );
    expect(problems).toEqual([]);
    expect(config!.bundles[0]!.service.type).toBe('oci');
    expect(config!.bundles[0]!.oci).toEqual({ registry: 'ghcr.io', repository: 'acme/policies/authz', reference: '1.0.0' });
    // As oras-go: a tag before the digest is dropped.
    expect(config!.bundles[1]!.oci).toEqual({ registry: 'ghcr.io', repository: 'acme/data', reference: `sha256:${'a'.repeat(64)}` });
    expect(readOpaConfigFile(configFile(MINIMAL), {}).config!.bundles[0]!.service.type).toBeUndefined();
  });

  it.each([
    ['no tag or digest', 'ghcr.io/acme/authz', 'names no tag or digest'],
    ['no registry', 'authz:1.0', 'names no registry and repository'],
    ['an upper-case repository', 'ghcr.io/Acme/authz:1', 'which is not a repository name'],
    ['a bad tag', 'ghcr.io/acme/authz:-x', 'which is not a tag'],
    ['a bad digest', 'ghcr.io/acme/authz@sha256:abc', 'which is not a sha256 or sha512 digest'],
  ])('refuses an OCI resource with %s, naming the key', (_case, resource, message) => {
    const problems = problemsOf(`services: { reg: { url: "http://127.0.0.1:5000", type: oci } }\nbundles: { authz: { resource: "${resource}" } }\n`);
    expect(problems).toEqual([expect.stringMatching(/^bundles\.authz\.resource: /)]);
    expect(problems[0]).toContain(message);
    expect(problems[0]).toContain('service reg is an OCI registry');
  });

  it('refuses what a registry cannot do: long polling, decision logs and status sent to it', () => {
    expect(
      problemsOf(`services: { reg: { url: "http://127.0.0.1:5000", type: oci } }
bundles: { authz: { resource: "127.0.0.1:5000/acme/authz:v1", polling: { min_delay_seconds: 1, max_delay_seconds: 2, long_polling_timeout_seconds: 10 } } }
decision_logs: { service: reg }
status: { service: reg }
`),
    ).toEqual([
      expect.stringMatching(/^bundles\.authz\.polling\.long_polling_timeout_seconds: a registry cannot long-poll/),
      'decision_logs.service: reg is an OCI registry; decision logs go to an HTTP service',
      'status.service: reg is an OCI registry; status reports go to an HTTP service',
    ]);
  });

  it("reads decision_logs and status with OPA's defaults and resources", () => {
    const { config, problems } = readOpaConfigFile(configFile(`${MINIMAL}decision_logs: { partition_name: mesh }\nstatus: { console: true }\n`), {});
    expect(problems).toEqual([]);
    expect(config!.decisionLogs).toMatchObject({
      resource: '/logs/mesh',
      bufferType: 'size',
      bufferSizeLimitBytes: 64 * 1024 * 1024,
      uploadSizeLimitBytes: 32768,
      minDelaySeconds: 300,
      maxDelaySeconds: 600,
      maskDecision: 'system/log/mask',
      dropDecision: 'system/log/drop',
      console: false,
    });
    expect(config!.decisionLogs!.service.name).toBe('acme');
    expect(config!.status).toMatchObject({ resource: '/status/', console: true });
  });

  it.each([
    ['upload_size_limit_bytes below 90 is raised to 90', 'reporting: { upload_size_limit_bytes: 10 }', { uploadSizeLimitBytes: 90 }],
    ['an event buffer', 'reporting: { buffer_type: event, buffer_size_limit_events: 50 }', { bufferType: 'event', bufferSizeLimitEvents: 50 }],
    ['mask_decision as a data path', 'mask_decision: /custom/mask', { maskDecision: 'custom/mask' }],
  ])('decision_logs: %s', (_name, yaml, expected) => {
    const { config, problems } = readOpaConfigFile(configFile(`${MINIMAL}decision_logs: { service: acme, ${yaml} }\n`), {});
    expect(problems).toEqual([]);
    expect(config!.decisionLogs).toMatchObject(expected);
  });

  it('refuses console-only decision logs (OPA does not default the service then)', () => {
    expect(problemsOf(`${MINIMAL}decision_logs: { console: true }\n`).join('\n')).toContain('console-only decision logs');
  });

  it('honours allow_insecure_tls only when it is set explicitly to true', () => {
    const off = readOpaConfigFile(configFile('services: { a: { url: "https://x" } }\nbundles: { b: {} }\n'), {}).config!;
    const on = readOpaConfigFile(configFile('services: { a: { url: "https://x", allow_insecure_tls: true } }\nbundles: { b: {} }\n'), {}).config!;
    expect(off.bundles[0]!.service.allowInsecureTls).toBe(false);
    expect(on.bundles[0]!.service.allowInsecureTls).toBe(true);
  });
});

describe('parseServeConfig with --config-file (and MESHWARDEN_OPA_CONFIG)', () => {
  const withPlugin = configFile(`${MINIMAL}plugins:
  envoy_ext_authz_grpc:
    addr: ":9292"
    path: envoy/authz/decision
    dry-run: true
    enable-reflection: true
    skip-request-body-parse: true
    grpc-max-recv-msg-size: 65536
`);

  it('takes the plugin section as the settings: addr, path, dry-run, reflection, body parsing, receive limit', () => {
    const config = parseServeConfig(['--config-file', withPlugin], {});
    expect(config).toMatchObject({ grpcAddr: { host: '0.0.0.0', port: 9292 }, decision: 'envoy/authz/decision', shadow: true, reflection: true, skipBodyParse: true, maxRequestBytes: 65536 });
    expect(config.opa!.bundles[0]!.name).toBe('authz');
  });

  it("uses opa-envoy-plugin's defaults where the plugin section is silent: envoy/authz/allow, 4 MiB, no reflection", () => {
    const config = parseServeConfig([], { MESHWARDEN_OPA_CONFIG: configFile(MINIMAL) });
    expect(config).toMatchObject({ grpcAddr: { host: '0.0.0.0', port: 9191 }, decision: 'envoy/authz/allow', maxRequestBytes: 4 * 1024 * 1024, reflection: false, shadow: false });
  });

  it('takes --workers with the management plane (the primary runs it): auto by default, as without a config file', () => {
    expect(parseServeConfig(['--config-file', withPlugin], {}).workers).toBeUndefined();
    expect(parseServeConfig(['--config-file', withPlugin, '--workers', '2'], {}).workers).toBe(2);
  });

  it('lets flags win over the file', () => {
    const config = parseServeConfig(['--config-file', withPlugin, '--grpc-addr', '127.0.0.1:7000', '--shadow=false'], {});
    expect(config).toMatchObject({ grpcAddr: { host: '127.0.0.1', port: 7000 }, shadow: false });
  });

  it('refuses --rules and --bundle beside downloaded bundles, and a file with nothing to serve', () => {
    const problems = (argv: string[]): string[] => {
      try {
        parseServeConfig(argv, {});
        return [];
      } catch (error) {
        return [...(error as ConfigError).problems];
      }
    };
    expect(problems(['--config-file', withPlugin, '--bundle', '/b.tar.gz']).join('\n')).toContain('the OPA config file lists bundles to download: leave out --bundle');
    expect(problems(['--config-file', withPlugin, '--rules', '/r.yaml']).join('\n')).toContain('leave out --rules');
    expect(problems(['--config-file', configFile('labels: { a: b }\n')]).join('\n')).toContain('no bundle to serve');
    expect(problems(['--config-file', join(dir, 'missing.yaml')]).join('\n')).toContain('cannot read the OPA config file');
  });
});
