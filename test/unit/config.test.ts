// src/config.ts parseServeConfig: defaults, flags over MESHWARDEN_* env, every problem listed at once.
import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress } from '../../src/listeners/address.js';
import { parseServeConfig, type ServeConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { makeTempDir } from '../helpers/temp.js';

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
  maxRequestBytes: 8388608,
  maxPathBytes: 65536,
  maxHeaderBytes: 1048576,
  maxHeaderCount: 10000,
  skipBodyParse: false,
  protoDescriptor: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  tlsClientCa: undefined,
  tlsAllowedSpiffeIds: [],
  otlpTracesEndpoint: undefined,
  shutdownGraceMs: 10000,
  drainMs: 5000,
  callTimeoutMs: 2000,
  idleTimeoutMs: 300000,
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

/** The problems parseServeConfig reports, or [] when it accepts the input. */
function problemsOf(argv: string[], env: Record<string, string> = {}): readonly string[] {
  try {
    parseServeConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('parseServeConfig', () => {
  it('has the documented defaults', () => {
    expect(parseServeConfig([], {})).toEqual(DEFAULTS);
  });

  it('returns a frozen config, addresses included', () => {
    const config = parseServeConfig(['--grpc-addr', '127.0.0.1:1'], {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.grpcAddr)).toBe(true);
    expect(Object.isFrozen(config.adminAddr)).toBe(true);
  });

  it('ignores variables that are not MESHWARDEN_*', () => {
    expect(parseServeConfig([], { PATH: '/bin', HOME: '/root', meshwarden_bundle: 'x', GRPC_ADDR: 'nope' })).toEqual(DEFAULTS);
  });

  it.each<[string, Record<string, string>, Partial<ServeConfig>]>([
    ['MESHWARDEN_GRPC_ADDR', { MESHWARDEN_GRPC_ADDR: '127.0.0.1:9000' }, { grpcAddr: { host: '127.0.0.1', port: 9000 } }],
    ['MESHWARDEN_ADMIN_ADDR', { MESHWARDEN_ADMIN_ADDR: '127.0.0.1:8282' }, { adminAddr: { host: '127.0.0.1', port: 8282 } }],
    ['MESHWARDEN_ADMIN_ADDR=off', { MESHWARDEN_ADMIN_ADDR: 'off' }, { adminAddr: undefined }],
    ['MESHWARDEN_BUNDLE', { MESHWARDEN_BUNDLE: '/p/b.tar.gz' }, { bundle: '/p/b.tar.gz' }],
    ['MESHWARDEN_DATA with a bundle', { MESHWARDEN_BUNDLE: '/p/a.wasm', MESHWARDEN_DATA: '/p/d.json' }, { bundle: '/p/a.wasm', data: '/p/d.json' }],
    ['MESHWARDEN_DECISION with a bundle', { MESHWARDEN_BUNDLE: '/p/b.tar.gz', MESHWARDEN_DECISION: 'istio/authz/allow' }, { bundle: '/p/b.tar.gz', decision: 'istio/authz/allow' }],
    ['MESHWARDEN_SHADOW=true', { MESHWARDEN_SHADOW: 'true' }, { shadow: true }],
    ['MESHWARDEN_SHADOW=1', { MESHWARDEN_SHADOW: '1' }, { shadow: true }],
    ['MESHWARDEN_SHADOW=YES', { MESHWARDEN_SHADOW: 'YES' }, { shadow: true }],
    ['MESHWARDEN_SHADOW=false', { MESHWARDEN_SHADOW: 'false' }, { shadow: false }],
    ['MESHWARDEN_SHADOW=0', { MESHWARDEN_SHADOW: '0' }, { shadow: false }],
    ['MESHWARDEN_LOG_LEVEL', { MESHWARDEN_LOG_LEVEL: 'debug' }, { logLevel: 'debug' }],
    ['MESHWARDEN_MAX_REQUEST_BYTES', { MESHWARDEN_MAX_REQUEST_BYTES: '4194304' }, { maxRequestBytes: 4194304 }],
    ['MESHWARDEN_SKIP_BODY_PARSE', { MESHWARDEN_SKIP_BODY_PARSE: 'true' }, { skipBodyParse: true }],
    ['MESHWARDEN_SHUTDOWN_GRACE_MS', { MESHWARDEN_SHUTDOWN_GRACE_MS: '2500' }, { shutdownGraceMs: 2500 }],
    ['MESHWARDEN_DRAIN_MS', { MESHWARDEN_DRAIN_MS: '250' }, { drainMs: 250 }],
    ['MESHWARDEN_CALL_TIMEOUT_MS', { MESHWARDEN_CALL_TIMEOUT_MS: '750' }, { callTimeoutMs: 750 }],
    ['MESHWARDEN_RULES_SETTLE_MS', { MESHWARDEN_RULES_SETTLE_MS: '3000' }, { rulesSettleMs: 3000 }],
  ])('reads %s', (_name, env, expected) => {
    expect(parseServeConfig([], env)).toEqual({ ...DEFAULTS, ...expected });
  });

  it.each<[string, string[], Partial<ServeConfig>]>([
    ['--grpc-addr HOST:PORT', ['--grpc-addr', '127.0.0.1:9000'], { grpcAddr: { host: '127.0.0.1', port: 9000 } }],
    ['--grpc-addr=HOST:PORT', ['--grpc-addr=localhost:80'], { grpcAddr: { host: 'localhost', port: 80 } }],
    ['--grpc-addr :PORT', ['--grpc-addr', ':9292'], { grpcAddr: { host: '0.0.0.0', port: 9292 } }],
    ['--grpc-addr [IPv6]:PORT', ['--grpc-addr', '[::1]:9191'], { grpcAddr: { host: '::1', port: 9191 } }],
    ['--grpc-addr port 0', ['--grpc-addr', '127.0.0.1:0'], { grpcAddr: { host: '127.0.0.1', port: 0 } }],
    ['--grpc-addr port 65535', ['--grpc-addr', '127.0.0.1:65535'], { grpcAddr: { host: '127.0.0.1', port: 65535 } }],
    ['--admin-addr', ['--admin-addr', ':8282'], { adminAddr: { host: '0.0.0.0', port: 8282 } }],
    ['--admin-addr off', ['--admin-addr=off'], { adminAddr: undefined }],
    ['--bundle', ['--bundle', 'policy.tar.gz'], { bundle: 'policy.tar.gz' }],
    ['--bundle and --data', ['--bundle', 'p.wasm', '--data=d.json'], { bundle: 'p.wasm', data: 'd.json' }],
    ['--bundle and --decision', ['--bundle', 'p.tar.gz', '--decision', 'envoy/authz/allow'], { bundle: 'p.tar.gz', decision: 'envoy/authz/allow' }],
    ['bare --shadow', ['--shadow'], { shadow: true }],
    ['--shadow=false', ['--shadow=false'], { shadow: false }],
    ['--shadow=no', ['--shadow=no'], { shadow: false }],
    ['bare --skip-body-parse', ['--skip-body-parse'], { skipBodyParse: true }],
    ['--log-level', ['--log-level', 'warn'], { logLevel: 'warn' }],
    ['--max-request-bytes at the minimum', ['--max-request-bytes', '1024'], { maxRequestBytes: 1024 }],
    ['--max-path-bytes', ['--max-path-bytes', '4096'], { maxPathBytes: 4096 }],
    ['--max-header-bytes', ['--max-header-bytes', '65536'], { maxHeaderBytes: 65536 }],
    ['--max-header-count', ['--max-header-count', '100'], { maxHeaderCount: 100 }],
    // The buffer budget's default grows with a --max-request-bytes whose requests its large share could not hold.
    ['--max-request-bytes at the maximum', ['--max-request-bytes', '1073741824'], { maxRequestBytes: 1073741824, maxBufferedBytes: Math.ceil((1073741824 * 4) / 3) }],
    ['--max-buffered-bytes', ['--max-buffered-bytes', '67108864'], { maxBufferedBytes: 67108864 }],
    ['--max-buffered-bytes at four thirds of --max-request-bytes', ['--max-buffered-bytes', '1398102', '--max-request-bytes', '1048576'], { maxBufferedBytes: 1398102, maxRequestBytes: 1048576 }],
    ['--shutdown-grace-ms 0', ['--shutdown-grace-ms', '0'], { shutdownGraceMs: 0 }],
    ['--shutdown-grace-ms at the maximum', ['--shutdown-grace-ms=600000'], { shutdownGraceMs: 600000 }],
    ['--drain-ms 0', ['--drain-ms', '0'], { drainMs: 0 }],
    ['--call-timeout-ms at the minimum', ['--call-timeout-ms', '100'], { callTimeoutMs: 100 }],
    ['--idle-timeout-ms', ['--idle-timeout-ms', '60000'], { idleTimeoutMs: 60000 }],
    ['--max-connections', ['--max-connections', '10'], { maxConnections: 10 }],
    ['--max-streams-per-connection', ['--max-streams-per-connection', '8'], { maxStreamsPerConnection: 8 }],
    ['--rules-settle-ms', ['--rules-settle-ms', '250'], { rulesSettleMs: 250 }],
    ['--log-redact', ['--log-redact', 'x-tenant-key, ssn'], { logRedact: ['x-tenant-key', 'ssn'] }],
    ['--workers 1', ['--workers', '1'], { workers: 1 }],
    ['--workers at the maximum', ['--workers', '256'], { workers: 256 }],
    ['--workers auto', ['--workers', 'auto'], { workers: undefined }],
  ])('reads %s', (_name, argv, expected) => {
    expect(parseServeConfig(argv, {})).toEqual({ ...DEFAULTS, ...expected });
  });

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])('accepts log level %s', (level) => {
    expect(parseServeConfig(['--log-level', level], {}).logLevel).toBe(level);
  });

  it('lets flags win over the environment', () => {
    const env = {
      MESHWARDEN_GRPC_ADDR: '1.2.3.4:1',
      MESHWARDEN_ADMIN_ADDR: 'off',
      MESHWARDEN_SHADOW: 'true',
      MESHWARDEN_LOG_LEVEL: 'debug',
      MESHWARDEN_MAX_REQUEST_BYTES: '2048',
      MESHWARDEN_DECISION: 'from/env',
      MESHWARDEN_SKIP_BODY_PARSE: 'true',
      MESHWARDEN_BUNDLE: 'env.tar.gz',
    };
    const config = parseServeConfig(
      ['--grpc-addr', '5.6.7.8:2', '--admin-addr', '127.0.0.1:3', '--shadow=false', '--log-level', 'warn', '--max-request-bytes', '4096', '--decision', 'from/flag'],
      env,
    );
    expect(config).toEqual({
      ...DEFAULTS,
      grpcAddr: { host: '5.6.7.8', port: 2 },
      adminAddr: { host: '127.0.0.1', port: 3 },
      shadow: false,
      logLevel: 'warn',
      maxRequestBytes: 4096,
      decision: 'from/flag',
      // no flag, so the environment applies
      skipBodyParse: true,
      bundle: 'env.tar.gz',
    });
  });

  it('a good flag does not excuse a bad environment value (nor the other way round)', () => {
    expect(problemsOf(['--grpc-addr', '127.0.0.1:1'], { MESHWARDEN_GRPC_ADDR: 'bad' })).toEqual([]);
    const problems = problemsOf(['--log-level', 'loud'], { MESHWARDEN_LOG_LEVEL: 'debug' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('--log-level');
  });

  it('lists every bad value at once, each naming where it came from', () => {
    const problems = problemsOf(['--log-level', 'loud', '--max-request-bytes', '12', '--nope', 'stray'], {
      MESHWARDEN_GRPC_ADDR: 'nowhere',
      MESHWARDEN_ADMIN_ADDR: 'OFF',
      MESHWARDEN_SHADOW: 'maybe',
      MESHWARDEN_SKIP_BODY_PARSE: 'sometimes',
      MESHWARDEN_SHUTDOWN_GRACE_MS: '-1',
      MESHWARDEN_BUNDLE: '',
      MESHWARDEN_DECISION: '',
      MESHWARDEN_COLOUR: 'blue',
    });
    const expectations: [string, string][] = [
      ['--log-level', 'loud'],
      ['--max-request-bytes', '12'],
      ['--nope', 'unknown flag'],
      ['stray', 'unexpected argument'],
      ['MESHWARDEN_GRPC_ADDR', 'nowhere'],
      ['MESHWARDEN_ADMIN_ADDR', 'OFF'],
      ['MESHWARDEN_SHADOW', 'maybe'],
      ['MESHWARDEN_SKIP_BODY_PARSE', 'sometimes'],
      ['MESHWARDEN_SHUTDOWN_GRACE_MS', '-1'],
      ['MESHWARDEN_BUNDLE', 'empty'],
      ['MESHWARDEN_DECISION', 'empty'],
      ['MESHWARDEN_COLOUR', 'unknown'],
    ];
    expect(problems).toHaveLength(expectations.length);
    for (const [origin, detail] of expectations) {
      expect(problems.some((problem) => problem.includes(origin) && problem.includes(detail)), `${origin} / ${detail} in ${JSON.stringify(problems)}`).toBe(true);
    }
  });

  it('throws a ConfigError whose message lists every problem', () => {
    let caught: unknown;
    try {
      parseServeConfig(['--log-level', 'loud'], { MESHWARDEN_SHADOW: 'maybe' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems).toHaveLength(2);
    expect(error.message).toContain('2 problems');
    for (const problem of error.problems) expect(error.message).toContain(problem);
  });

  it.each([
    ['no port', 'localhost'],
    ['a bare port', '9191'],
    ['an empty port', 'localhost:'],
    ['a port above 65535', 'localhost:65536'],
    ['a six-digit port', 'localhost:100000'],
    ['a named port', 'localhost:http'],
    ['a negative port', 'localhost:-1'],
    ['an unbracketed IPv6 address', '::1:9191'],
    ['a bracketed IPv6 address without a port', '[::1]'],
    ['a space in the host', 'my host:80'],
    ['a URL', 'grpc://localhost:9191'],
    ['an empty value', ''],
  ])('rejects an address with %s (%j)', (_name, value) => {
    const problems = problemsOf(['--grpc-addr', value]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('--grpc-addr');
    expect(problems[0]).toContain('is not HOST:PORT');
  });

  it.each([
    ['--admin-addr', 'none'],
    ['--admin-addr', '9090'],
    ['--admin-addr', ''],
    ['--max-request-bytes', '1023'],
    ['--max-path-bytes', '255'],
    ['--max-header-bytes', 'lots'],
    ['--max-header-count', '0'],
    ['--max-request-bytes', '1073741825'],
    ['--max-request-bytes', '1e6'],
    ['--max-request-bytes', '8MiB'],
    ['--max-request-bytes', '-2048'],
    ['--max-request-bytes', '2048.5'],
    ['--max-request-bytes', ''],
    ['--shutdown-grace-ms', '600001'],
    ['--shutdown-grace-ms', '1.5'],
    ['--shutdown-grace-ms', '-1'],
    ['--shutdown-grace-ms', '10s'],
    ['--drain-ms', '600001'],
    ['--drain-ms', '5s'],
    ['--call-timeout-ms', '99'],
    ['--idle-timeout-ms', '999'],
    ['--max-connections', '0'],
    ['--max-streams-per-connection', '0'],
    ['--max-streams-per-connection', '2147483648'],
    ['--max-buffered-bytes', '1048575'],
    ['--max-buffered-bytes', '1GiB'],
    // Less than four thirds of the default --max-request-bytes (8 MiB).
    ['--max-buffered-bytes', '11184810'],
    ['--rules-settle-ms', '9'],
    ['--log-redact', ','],
    ['--log-redact', 'a b'],
    ['--rules-settle-ms', '600001'],
    ['--rules-settle-ms', '1s'],
    ['--workers', '0'],
    ['--workers', '257'],
    ['--workers', '1.5'],
    ['--workers', 'all'],
    ['--log-level', 'verbose'],
    ['--log-level', 'INFO'],
    ['--log-level', ''],
    ['--shadow', 'maybe'],
    ['--skip-body-parse', '2'],
    ['--bundle', ''],
    ['--decision', ''],
  ])('rejects %s=%j', (flag, value) => {
    const problems = problemsOf([`${flag}=${value}`]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(flag);
  });

  it('needs --bundle for --data', () => {
    const problems = problemsOf(['--data', 'd.json']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('--data needs --bundle');
    expect(problemsOf([], { MESHWARDEN_DATA: 'd.json' })).toHaveLength(1);
    expect(problemsOf(['--data', 'd.json'], { MESHWARDEN_BUNDLE: 'p.wasm' })).toEqual([]);
  });

  it('needs --bundle for --decision: without it the embedded default rules are served with the rules library', () => {
    const problems = problemsOf(['--decision', 'envoy/authz/allow']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('--decision names an entrypoint of --bundle');
    expect(problemsOf([], { MESHWARDEN_DECISION: 'envoy/authz/allow' })).toHaveLength(1);
    expect(problemsOf(['--decision', 'envoy/authz/allow'], { MESHWARDEN_BUNDLE: 'p.tar.gz' })).toEqual([]);
    // With --rules, the one problem is the rules one.
    expect(problemsOf(['--rules', 'r.yaml', '--decision', 'envoy/authz/allow'])).toEqual(['--rules serves the built-in rules library: leave out --bundle and --decision']);
  });

  it('reports a string flag given no value', () => {
    const problems = problemsOf(['--bundle']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('--bundle');
    expect(problems[0]).toContain('needs a value');
  });

  it.each([
    [['--nope'], '--nope'],
    [['--nope=1'], '--nope'],
    [['--grpc-address', '127.0.0.1:1'], '--grpc-address'],
    [['-x'], '-x'],
  ])('reports unknown flag %j', (argv, name) => {
    const problems = problemsOf(argv);
    expect(problems.length).toBeGreaterThanOrEqual(1);
    expect(problems.some((problem) => problem.includes(name) && problem.includes('unknown flag'))).toBe(true);
  });

  it.each(['MESHWARDEN_FOO', 'MESHWARDEN_GRPC_PORT', 'MESHWARDEN_', 'MESHWARDEN_BUNDLES'])('reports unknown variable %s', (name) => {
    const problems = problemsOf([], { [name]: 'x' });
    expect(problems).toEqual([`${name}: unknown setting`]);
  });

  it('reports positional arguments', () => {
    expect(problemsOf(['serve-now'])).toEqual(['unexpected argument "serve-now"']);
  });
});

describe('parseAddress / formatAddress', () => {
  it.each<[string, { host: string; port: number } | undefined]>([
    ['127.0.0.1:9191', { host: '127.0.0.1', port: 9191 }],
    [':9191', { host: '0.0.0.0', port: 9191 }],
    ['[::]:9191', { host: '::', port: 9191 }],
    ['[fe80::1]:1', { host: 'fe80::1', port: 1 }],
    ['meshwarden.svc.cluster.local:9191', { host: 'meshwarden.svc.cluster.local', port: 9191 }],
    ['host:99999', undefined],
    ['[::1]9191', undefined],
  ])('parseAddress(%j) → %j', (text, expected) => {
    expect(parseAddress(text)).toEqual(expected);
  });

  it.each([
    [{ host: '0.0.0.0', port: 9191 }, '0.0.0.0:9191'],
    [{ host: '::1', port: 80 }, '[::1]:80'],
  ])('formatAddress(%j) → %j', (address, text) => {
    expect(formatAddress(address)).toBe(text);
    expect(parseAddress(text)).toEqual(address);
  });
});

describe('identity settings and the config file', () => {
  it('reads the trust domain, its aliases, federated trust domains and xfcc from flags, variables and a file', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = makeTempDir('meshwarden-config-');
    const file = join(dir, 'meshwarden.yaml');
    writeFileSync(file, 'trust-domain: prod.example\ntrust-domain-aliases: [old.example, cluster.local]\nxfcc: true\nlog-level: debug\n');
    const fromFile = parseServeConfig(['--config', file], {});
    expect(fromFile).toMatchObject({ trustDomain: 'prod.example', trustDomainAliases: ['old.example', 'cluster.local'], xfcc: true, logLevel: 'debug', config: file });
    // flags win over variables, variables over the file
    const layered = parseServeConfig(['--config', file, '--trust-domain', 'flag.example'], {
      MESHWARDEN_TRUST_DOMAIN: 'env.example',
      MESHWARDEN_FEDERATED_TRUST_DOMAINS: 'partner.example, other.example',
      MESHWARDEN_LOG_LEVEL: 'warn',
    });
    expect(layered).toMatchObject({ trustDomain: 'flag.example', federatedTrustDomains: ['partner.example', 'other.example'], logLevel: 'warn' });
  });

  it('lists bad trust domains, unknown file keys and wrong value types with the rest', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(makeTempDir('meshwarden-config-'), 'bad.yaml');
    writeFileSync(file, 'trust-domain-aliases: [Old.Example]\nfrobnicate: 1\nbundle: [a, b]\n');
    const problems = problemsOf(['--config', file, '--trust-domain', 'spiffe://cluster.local', '--federated-trust-domains', 'cluster.local'], {});
    expect(problems.join('\n')).toContain('frobnicate: unknown setting');
    expect(problems.join('\n')).toContain('bundle: expected a single value');
    expect(problems.join('\n')).toContain('the local trust domain "spiffe://cluster.local" is not a valid trust domain');
    expect(problems.join('\n')).toContain('write the name without "spiffe://"');
    expect(problems.join('\n')).toContain('"Old.Example" is not a valid trust domain');
    expect(problemsOf(['--config', join(file, 'missing.yaml')]).join('\n')).toContain('cannot read the config file');
  });

  it('rejects a trust domain that is both an alias and federated', () => {
    expect(problemsOf(['--trust-domain-aliases', 'a.example', '--federated-trust-domains', 'a.example'])).toEqual([
      'trust domain "a.example" is both local (or an alias) and federated',
    ]);
  });
});

describe('source-principal-metadata', () => {
  it('is off by default, and read from the flag, the variable and the config file', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    expect(parseServeConfig([], {}).sourcePrincipalMetadata).toBeUndefined();
    expect(parseServeConfig(['--source-principal-metadata', 'meshwarden.peer:source_principal'], {}).sourcePrincipalMetadata).toEqual({ namespace: 'meshwarden.peer', keys: ['source_principal'] });
    expect(parseServeConfig([], { MESHWARDEN_SOURCE_PRINCIPAL_METADATA: 'envoy.filters.http.lua:peer:principal' }).sourcePrincipalMetadata).toEqual({ namespace: 'envoy.filters.http.lua', keys: ['peer', 'principal'] });
    const file = join(makeTempDir('meshwarden-config-'), 'meshwarden.yaml');
    writeFileSync(file, 'source-principal-metadata: meshwarden.peer:source_principal\n');
    expect(parseServeConfig(['--config', file], {}).sourcePrincipalMetadata).toEqual({ namespace: 'meshwarden.peer', keys: ['source_principal'] });
  });

  it('refuses a value without a key, naming where it came from', () => {
    expect(() => parseServeConfig(['--source-principal-metadata', 'meshwarden.peer'], {})).toThrow(/--source-principal-metadata: "meshwarden.peer" expected NAMESPACE:KEY/);
    expect(() => parseServeConfig([], { MESHWARDEN_SOURCE_PRINCIPAL_METADATA: 'a::b' })).toThrow(/MESHWARDEN_SOURCE_PRINCIPAL_METADATA: "a::b"/);
  });
});

describe('JWT settings (config file only)', () => {
  it('reads jwt-issuers and jwt-svid into structured settings', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = makeTempDir('meshwarden-config-');
    const jwks = join(dir, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', kid: 'a', x: 'WKn-ZIGevcwGIyyrzFoZNBdaq9_TsqzGl96oc0CWuis', y: 'y77t-RvAHRKTsSGdIYUfweuOvwrvDD-Q3Hv5J0fSKbE' }] }));
    const file = join(dir, 'meshwarden.yaml');
    writeFileSync(
      file,
      `trust-domain: prod.example\njwt-issuers:\n  - issuer: https://issuer.example\n    jwks-uri: https://issuer.example/jwks\n    audiences: [api]\n  - issuer: https://files.example\n    jwks-file: ${jwks}\n    audiences: [api, other]\njwt-svid:\n  audience: spiffe://prod.example/ns/data/sa/data\n  bundle-uri: http://127.0.0.1:8081/bundle\n`,
    );
    const config = parseServeConfig(['--config', file], {});
    expect(config.trustDomain).toBe('prod.example');
    expect(config.jwtIssuers).toEqual([
      { issuer: 'https://issuer.example', keys: { uri: 'https://issuer.example/jwks' }, audiences: ['api'] },
      { issuer: 'https://files.example', keys: { file: jwks }, audiences: ['api', 'other'] },
    ]);
    expect(config.jwtSvid).toEqual({ audience: 'spiffe://prod.example/ns/data/sa/data', keys: { uri: 'http://127.0.0.1:8081/bundle' } });
    expect(Object.isFrozen(config.jwtIssuers)).toBe(true);
  });

  it('reads a bundle per federated trust domain for JWT-SVIDs, and lists every problem with them', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = makeTempDir('meshwarden-config-');
    const good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      'federated-trust-domains: partner.example,other.example\njwt-svid:\n  audience: spiffe://cluster.local/ns/data/sa/data\n  bundle-uri: https://spire.example/bundle\n  federated-bundles:\n    partner.example: {bundle-uri: https://spire.partner.example/bundle}\n',
    );
    expect(parseServeConfig(['--config', good], {}).jwtSvid).toEqual({
      audience: 'spiffe://cluster.local/ns/data/sa/data',
      keys: { uri: 'https://spire.example/bundle' },
      federated: [{ trustDomain: 'partner.example', keys: { uri: 'https://spire.partner.example/bundle' } }],
    });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'federated-trust-domains: partner.example\njwt-svid:\n  audience: a\n  bundle-uri: https://spire.example/bundle\n  federated-bundles:\n    partner.example: {bundle-uri: https://p.example/b, colour: blue}\n    stranger.example: {bundle-uri: https://s.example/b}\n    Bad_Name: {bundle-uri: https://b.example/b}\n    empty.example: {}\n',
    );
    const problems = problemsOf(['--config', bad]);
    expect(problems).toEqual([
      expect.stringContaining('federated-bundles: partner.example: unknown key "colour"'),
      expect.stringContaining('federated-bundles: Bad_Name: not a trust domain name'),
      expect.stringContaining('federated-bundles: empty.example: needs exactly one of bundle-file and bundle-uri'),
      'jwt-svid: federated-bundles: stranger.example is not one of the federated trust domains (--federated-trust-domains)',
    ]);
  });

  it('are not flags or variables, and plain http is refused outside 127.0.0.1 and localhost', async () => {
    expect(problemsOf(['--jwt-issuers=x'])).toEqual(['--jwt-issuers: unknown flag']);
    expect(problemsOf([], { MESHWARDEN_JWT_SVID: 'x' })).toEqual(['MESHWARDEN_JWT_SVID: unknown setting']);
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(makeTempDir('meshwarden-config-'), 'bad.yaml');
    writeFileSync(file, 'jwt-issuers: {issuer: x}\njwt-svid:\n  audience: a\n  bundle-uri: http://spire.example/bundle\n');
    const problems = problemsOf(['--config', file]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('jwt-issuers: expected a list');
    expect(problems[1]).toContain('bundle-uri must be an https URL');
  });
});

describe('TLS settings', () => {
  it('reads the files and the SPIFFE allow-list from flags and variables', () => {
    expect(
      parseServeConfig(['--tls-cert', '/certs/tls.crt', '--tls-key', '/certs/tls.key', '--tls-client-ca', '/certs/ca.crt'], {
        MESHWARDEN_TLS_ALLOWED_SPIFFE_IDS: 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway, spiffe://cluster.local/ns/envoy/sa/envoy',
      }),
    ).toMatchObject({
      tlsCert: '/certs/tls.crt',
      tlsKey: '/certs/tls.key',
      tlsClientCa: '/certs/ca.crt',
      tlsAllowedSpiffeIds: ['spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway', 'spiffe://cluster.local/ns/envoy/sa/envoy'],
    });
  });

  it('refuses a key without a certificate, a client CA without TLS, an allow-list without a client CA and IDs the strict parser rejects', () => {
    expect(problemsOf(['--tls-key', 'k'])).toEqual(['--tls-cert and --tls-key go together: give both, or neither']);
    expect(problemsOf(['--tls-client-ca', 'ca'])).toEqual(['--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)']);
    const problems = problemsOf(['--tls-cert', 'c', '--tls-key', 'k', '--tls-allowed-spiffe-ids', 'spiffe://cluster.local/ns/a/sa/a,spiffe://Bad/x,https://x']);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('needs --tls-client-ca');
    expect(problems[1]).toContain('"spiffe://Bad/x" is not a SPIFFE ID');
    expect(problems[2]).toContain('"https://x" is not a SPIFFE ID');
  });
});
