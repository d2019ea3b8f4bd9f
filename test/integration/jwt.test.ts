// Bearer tokens through the real server (--config YAML): input.jwt for end-user JWTs, JWT-SVIDs as the source
// identity (reference S-3, T-35), mTLS winning over a JWT-SVID, and keys that cannot be had in time (JWKS down,
// or a JWKS server that never answers) giving keys_unavailable before the call's deadline, in gRPC and HTTP mode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRego } from '../helpers/policies.js';
import {
  createSigningKey,
  hmacToken,
  jwksOf,
  signToken,
  spiffeBundleOf,
  startJwksServer,
  unsecuredToken,
  writeJsonFile,
  writeTextFile,
  type JwksServer,
  type SigningKey,
} from '../helpers/jwt.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';
import { structToJson } from '../helpers/struct.js';

const ISSUER = 'https://issuer.example';
const REMOTE_ISSUER = 'https://remote.example';
const HANGING_ISSUER = 'https://hanging.example';
const AUDIENCE = 'data-api';

const ECHO = 'package envoy.authz\nallow := {"allowed": true, "dynamic_metadata": {"jwt": object.get(input, "jwt", "absent"), "source": input.source}}\n';
const READERS = [
  'package envoy.authz',
  'default allow := false',
  'allow if {',
  '  input.jwt.valid == true',
  '  input.jwt.claims.role == "reader"',
  '}',
  '',
].join('\n');

let issuerKey: SigningKey;
let remoteKey: SigningKey;
let svidKey: SigningKey;
let otherKey: SigningKey;
let jwks: JwksServer;
let hangingJwks: JwksServer;
let issuerFile: string;
let bundleFile: string;
let echo: TestServer; // echo policy; issuers from a file and a URL; JWT-SVIDs from a bundle file
let svid: TestServer; // the embedded default rules, with JWT-SVIDs accepted
let readers: TestServer; // input.jwt.valid and a claim; also the HTTP service

function configFile(settings: { issuers?: { issuer: string; source: string }[]; svid?: boolean }): string {
  const lines: string[] = [];
  if (settings.issuers) {
    lines.push('jwt-issuers:');
    for (const { issuer, source } of settings.issuers) lines.push(`  - issuer: ${issuer}`, `    ${source}`, `    audiences: [${AUDIENCE}, other-api]`);
  }
  if (settings.svid) lines.push('jwt-svid:', `  audience: ${DATA_SERVICE}`, `  bundle-file: ${bundleFile}`);
  return writeTextFile(lines.join('\n') + '\n', `config-${Math.random().toString(36).slice(2)}.yaml`);
}

beforeAll(async () => {
  [issuerKey, remoteKey, svidKey, otherKey] = await Promise.all([
    createSigningKey('issuer-1'),
    createSigningKey('remote-1', 'RS256'),
    createSigningKey('svid-1'),
    createSigningKey('svid-1'),
  ]);
  [jwks, hangingJwks] = await Promise.all([startJwksServer(jwksOf(remoteKey)), startJwksServer(jwksOf(remoteKey))]);
  hangingJwks.hang();
  issuerFile = writeJsonFile(jwksOf(issuerKey));
  bundleFile = writeJsonFile(spiffeBundleOf(svidKey));
  const issuers = [
    { issuer: ISSUER, source: `jwks-file: ${issuerFile}` },
    { issuer: REMOTE_ISSUER, source: `jwks-uri: ${jwks.url}` },
  ];
  [echo, svid, readers] = await Promise.all([
    startTestServer(['--bundle', compileRego(ECHO), '--config', configFile({ issuers, svid: true })]),
    startTestServer(['--config', configFile({ svid: true })]),
    startTestServer(['--bundle', compileRego(READERS), '--http-addr', '127.0.0.1:0', '--config', configFile({ issuers: [issuers[0]!] })]),
  ]);
});

afterAll(async () => {
  await Promise.all([echo, svid, readers].map((server) => server?.stop()));
  await Promise.all([jwks.close(), hangingJwks.close()]);
});

function withToken(token: string | undefined, source?: string, extra: Record<string, string> = {}): Record<string, unknown> {
  return httpCheckRequest({ source, destination: DATA_SERVICE, path: '/api/v1/data', headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...extra } });
}

function metadataOf(response: CheckResponseObject): Record<string, any> {
  return structToJson(response.dynamicMetadata);
}

function expectAllowed(response: CheckResponseObject): void {
  expect(response.status?.code ?? 0).toBe(0);
  expect(response.deniedResponse).toBeUndefined();
}

function expectDenied(response: CheckResponseObject): void {
  expect(response.status.code).toBe(7);
  expect(response.deniedResponse.status.code).toBe('Forbidden');
}

const readerClaims = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', role: 'reader' };

describe('input.jwt (end-user JWTs)', () => {
  it('a policy on input.jwt.valid and a claim allows a valid token and denies the rest', async () => {
    expectAllowed(await readers.client.check(withToken(await signToken(issuerKey, readerClaims))));
    expectDenied(await readers.client.check(withToken(await signToken(issuerKey, { ...readerClaims, role: 'writer' }))));
    expectDenied(await readers.client.check(withToken(await signToken(issuerKey, readerClaims, { expiresIn: -3600 }))));
    expectDenied(await readers.client.check(withToken(await signToken(otherKey, readerClaims, { header: { kid: 'issuer-1' } }))));
    expectDenied(await readers.client.check(withToken(undefined)));
  });

  it('input.jwt carries issuer, subject, audiences and claims; it is absent without a token', async () => {
    const token = await signToken(remoteKey, { ...readerClaims, iss: REMOTE_ISSUER });
    expect(metadataOf(await echo.client.check(withToken(token, ANALYTICS))).jwt).toMatchObject({
      valid: true,
      issuer: REMOTE_ISSUER,
      subject: 'alice',
      audiences: [AUDIENCE],
      claims: { role: 'reader', iss: REMOTE_ISSUER },
    });
    expect(metadataOf(await echo.client.check(withToken(undefined, ANALYTICS))).jwt).toBe('absent');
    expect(metadataOf(await echo.client.check(withToken(await signToken(issuerKey, { ...readerClaims, iss: 'https://evil.example' }), ANALYTICS))).jwt).toEqual({ valid: false, reason: 'unknown_issuer' });
  });

  it('T-14: two Authorization headers (joined by Envoy) are ambiguous and denied, never first or last', async () => {
    const good = await signToken(issuerKey, readerClaims);
    for (const value of [`Bearer ${good},Bearer ${good}`, `Bearer ${good},Bearer garbage`, `Bearer garbage,Bearer ${good}`]) {
      const request = httpCheckRequest({ destination: DATA_SERVICE, path: '/api/v1/data', headers: { authorization: value } });
      expectDenied(await readers.client.check(request));
      expect(metadataOf(await echo.client.check(httpCheckRequest({ source: ANALYTICS, path: '/', headers: { authorization: value } }))).jwt).toEqual({ valid: false, reason: 'ambiguous' });
    }
  });

  it('the token never reaches the log', async () => {
    const token = await signToken(issuerKey, { ...readerClaims, role: 'writer' });
    await readers.client.check(withToken(token));
    expect(JSON.stringify(readers.logs)).not.toContain(token.split('.')[2]);
  });

  it('HTTP service mode verifies the same way', async () => {
    const port = readers.serving.http!.port;
    const ask = async (authorization?: string): Promise<number> =>
      (await fetch(`http://127.0.0.1:${port}/api/v1/data`, { headers: authorization === undefined ? {} : { authorization } })).status;
    expect(await ask(`Bearer ${await signToken(issuerKey, readerClaims)}`)).toBe(200);
    expect(await ask(`Bearer ${await signToken(issuerKey, readerClaims, { expiresIn: -3600 })}`)).toBe(403);
    expect(await ask()).toBe(403);
  });
});

describe('JWT-SVIDs as the source identity', () => {
  const svidClaims = { sub: ANALYTICS, aud: DATA_SERVICE };

  it('a valid JWT-SVID gives input.source.via "jwt-svid", authenticated, and the default rules allow it', async () => {
    const token = await signToken(svidKey, svidClaims, { header: { typ: 'JWT' } });
    const source = metadataOf(await echo.client.check(withToken(token))).source;
    expect(source).toMatchObject({ principal: ANALYTICS, spiffe_id: ANALYTICS, namespace: 'analytics', service_account: 'analytics', authenticated: true, local: true, via: 'jwt-svid' });
    expectAllowed(await svid.client.check(withToken(token)));
  });

  it('an mTLS principal always wins over a JWT-SVID', async () => {
    const token = await signToken(svidKey, svidClaims);
    const other = 'spiffe://cluster.local/ns/test/sa/default';
    expect(metadataOf(await echo.client.check(withToken(token, other))).source).toMatchObject({ principal: other, via: 'mtls' });
    expectDenied(await svid.client.check(withToken(token, other)));
  });

  describe('T-35: every bad JWT-SVID is denied', () => {
    it.each<[string, () => Promise<string>]>([
      ['alg none', async () => unsecuredToken(svidClaims, 'svid-1')],
      ['alg HS256', () => hmacToken(svidClaims, 'svid-1')],
      ['missing aud', () => signToken(svidKey, { sub: ANALYTICS })],
      ['aud without this server', () => signToken(svidKey, { ...svidClaims, aud: ['spiffe://cluster.local/ns/other/sa/x'] })],
      ['missing exp', () => signToken(svidKey, svidClaims, { expiresIn: null })],
      ['expired', () => signToken(svidKey, svidClaims, { expiresIn: -3600 })],
      ['typ not JWT or JOSE', () => signToken(svidKey, svidClaims, { header: { typ: 'at+jwt' } })],
      ['non-SPIFFE sub', () => signToken(svidKey, { ...svidClaims, sub: 'analytics' })],
      ['sub in a foreign trust domain', () => signToken(svidKey, { ...svidClaims, sub: 'spiffe://evil.example/ns/analytics/sa/analytics' })],
      ['JSON serialisation', async () => Buffer.from('{"payload":"x"}').toString('utf8')],
      ['extra JOSE header parameters', () => signToken(svidKey, svidClaims, { header: { jku: 'https://evil.example/keys' } })],
      ['missing kid', () => signToken(svidKey, svidClaims, { header: { kid: undefined } })],
      ['signed by a key outside the bundle', () => signToken(otherKey, svidClaims)],
    ])('%s', async (_name, make) => {
      const token = await make();
      expectDenied(await svid.client.check(withToken(token)));
      expect(metadataOf(await echo.client.check(withToken(token))).source).toMatchObject({ principal: '', authenticated: false, via: null });
    });
  });
});

describe('keys that cannot be had', () => {
  it('the JWKS server going down: cached keys still verify; a fresh instance gets keys_unavailable, with no crash', async () => {
    const config = configFile({ issuers: [{ issuer: REMOTE_ISSUER, source: `jwks-uri: ${jwks.url}` }] });
    const first = await startTestServer(['--bundle', compileRego(ECHO), '--config', config]);
    let second: TestServer | undefined;
    try {
      const token = await signToken(remoteKey, { ...readerClaims, iss: REMOTE_ISSUER });
      expect(metadataOf(await first.client.check(withToken(token, ANALYTICS))).jwt).toMatchObject({ valid: true });
      await jwks.close();
      expect(metadataOf(await first.client.check(withToken(token, ANALYTICS))).jwt).toMatchObject({ valid: true });
      second = await startTestServer(['--bundle', compileRego(ECHO), '--config', config]);
      expect(metadataOf(await second.client.check(withToken(token, ANALYTICS))).jwt).toEqual({ valid: false, reason: 'keys_unavailable' });
      // still serving
      expect(metadataOf(await second.client.check(withToken(undefined, ANALYTICS))).jwt).toBe('absent');
    } finally {
      await Promise.all([first.stop(), second?.stop()]);
    }
  });

  it('a JWKS server that never answers: the answer (keys_unavailable) arrives before a 500 ms deadline', async () => {
    const config = configFile({ issuers: [{ issuer: HANGING_ISSUER, source: `jwks-uri: ${hangingJwks.url}` }] });
    const [hangingEcho, hangingReaders] = await Promise.all([
      startTestServer(['--bundle', compileRego(ECHO), '--config', config]),
      startTestServer(['--bundle', compileRego(READERS), '--http-addr', '127.0.0.1:0', '--config', config]),
    ]);
    try {
      const token = await signToken(remoteKey, { ...readerClaims, iss: HANGING_ISSUER });
      let started = Date.now();
      const response = await hangingEcho.client.check(withToken(token, ANALYTICS), { deadlineMs: 500 });
      expect(Date.now() - started).toBeLessThan(500);
      expect(metadataOf(response).jwt).toEqual({ valid: false, reason: 'keys_unavailable' });
      started = Date.now();
      expectDenied(await hangingReaders.client.check(withToken(token), { deadlineMs: 500 }));
      expect(Date.now() - started).toBeLessThan(500);
      // HTTP mode has no deadline on the wire: the default budget (within Envoy's 200 ms default timeout)
      started = Date.now();
      const status = (await fetch(`http://127.0.0.1:${hangingReaders.serving.http!.port}/api/v1/data`, { headers: { authorization: `Bearer ${token}` } })).status;
      expect(status).toBe(403);
      expect(Date.now() - started).toBeLessThan(500);
      expect(hangingJwks.requests).toBeGreaterThan(0);
    } finally {
      await Promise.all([hangingEcho.stop(), hangingReaders.stop()]);
    }
  });
});

describe('metrics', () => {
  it('counts every token verified, by kind and result', async () => {
    const server = await startTestServer(['--bundle', compileRego(ECHO), '--config', configFile({ issuers: [{ issuer: ISSUER, source: `jwks-file: ${issuerFile}` }], svid: true })]);
    try {
      const valid = await signToken(issuerKey, readerClaims);
      const expired = await signToken(issuerKey, readerClaims, { expiresIn: -3600 });
      const svidToken = await signToken(svidKey, { sub: ANALYTICS, aud: DATA_SERVICE });
      const forgedSvid = await signToken(otherKey, { sub: ANALYTICS, aud: DATA_SERVICE });
      await server.client.check(withToken(valid, ANALYTICS)); // mTLS caller: the end-user JWT only
      await server.client.check(withToken(valid, ANALYTICS));
      await server.client.check(withToken(expired, ANALYTICS));
      await server.client.check(withToken(svidToken)); // plaintext: a JWT-SVID too (the JWT check fails: no issuer)
      await server.client.check(withToken(forgedSvid));
      await server.client.check(withToken(undefined)); // no token: nothing verified
      const text = await (await fetch(`http://127.0.0.1:${server.serving.admin!.port}/metrics`)).text();
      const counts = Object.fromEntries(
        text
          .split('\n')
          .filter((line) => line.startsWith('meshwarden_token_verifications_total{') && !line.endsWith(' 0'))
          .map((line) => [line.slice(line.indexOf('{'), line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
      );
      expect(counts).toEqual({
        '{kind="jwt",result="valid"}': 2,
        '{kind="jwt",result="expired"}': 1,
        '{kind="jwt",result="unknown_issuer"}': 2,
        '{kind="jwt_svid",result="valid"}': 1,
        '{kind="jwt_svid",result="bad_signature"}': 1,
      });
      expect(text).toContain('meshwarden_token_verifications_total{kind="jwt_svid",result="keys_unavailable"} 0');
    } finally {
      await server.stop();
    }
  });
});

describe('configuration', () => {
  it('lists every JWT setting problem at start-up', async () => {
    const bad = writeTextFile(
      [
        'jwt-issuers:',
        '  - issuer: https://a.example',
        '    jwks-uri: http://issuer.example/jwks',
        '    audiences: []',
        '  - issuer: https://b.example',
        '    jwks-file: /nonexistent/jwks.json',
        '    audiences: [x]',
        '  - issuer: https://c.example',
        '    audiences: [x]',
        '    colour: blue',
        'jwt-svid:',
        `  bundle-file: ${issuerFile}`,
        `  bundle-uri: https://spire.example/bundle`,
        '',
      ].join('\n'),
      'bad-jwt.yaml',
    );
    await expect(startTestServer(['--config', bad])).rejects.toThrow(/\d+ problems/);
    try {
      await startTestServer(['--config', bad]);
    } catch (error) {
      const text = (error as { problems: string[] }).problems.join('\n');
      expect(text).toContain('jwks-uri must be an https URL');
      expect(text).toContain('audiences must be a non-empty list');
      expect(text).toContain('/nonexistent/jwks.json');
      expect(text).toContain('needs exactly one of jwks-file and jwks-uri');
      expect(text).toContain('unknown key "colour"');
      expect(text).toContain('audience must be a non-empty string');
      expect(text).toContain('needs exactly one of bundle-file and bundle-uri');
    }
  });
});
