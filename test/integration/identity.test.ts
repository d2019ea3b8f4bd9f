// Identity through the real server and the embedded default rules: every spoofing and malformed-identity case of
// reference §6 that concerns the peer identity is denied, and the identity blocks reach the policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRego } from '../helpers/policies.js';
import { envoyCertificate, leafPem } from '../helpers/certs.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';
import { structToJson } from '../helpers/struct.js';

const ECHO = 'package envoy.authz\nallow := {"allowed": true, "dynamic_metadata": {"source": input.source, "destination": input.destination}}\n';

let plain: TestServer; // default rules, defaults (no XFCC), alias old.example
let xfcc: TestServer; // default rules with --xfcc
let echo: TestServer;

beforeAll(async () => {
  [plain, xfcc, echo] = await Promise.all([
    startTestServer(['--trust-domain-aliases', 'old.example']),
    startTestServer(['--xfcc']),
    startTestServer(['--bundle', compileRego(ECHO), '--federated-trust-domains', 'partner.example']),
  ]);
});

afterAll(async () => {
  await Promise.all([plain, xfcc, echo].map((server) => server.stop()));
});

function getData(source: string | undefined, extra: { headers?: Record<string, string>; certificate?: string } = {}): Record<string, unknown> {
  const request = httpCheckRequest({ source, destination: DATA_SERVICE, path: '/api/v1/data', headers: extra.headers });
  if (extra.certificate !== undefined) (request as any).attributes.source.certificate = extra.certificate;
  return request;
}

function expectAllowed(response: CheckResponseObject): void {
  expect(response.status?.code ?? 0).toBe(0);
  expect(response.deniedResponse).toBeUndefined();
}

function expectDenied(response: CheckResponseObject): void {
  expect(response.status.code).toBe(7);
  expect(response.deniedResponse.status.code).toBe('Forbidden');
}


describe('the identity blocks reach the policy', () => {
  it('input.source and input.destination carry the parsed identities', async () => {
    const response = await echo.client.check(getData('spiffe://partner.example/ns/analytics/sa/analytics'));
    const metadata = structToJson(response.dynamicMetadata);
    expect(metadata.source).toEqual({
      principal: 'spiffe://partner.example/ns/analytics/sa/analytics',
      spiffe_id: 'spiffe://partner.example/ns/analytics/sa/analytics',
      trust_domain: 'partner.example',
      path: '/ns/analytics/sa/analytics',
      namespace: 'analytics',
      service_account: 'analytics',
      local: false,
      authenticated: true,
      via: 'mtls',
      address: '10.0.1.17',
      port: 41234,
    });
    expect(metadata.destination).toMatchObject({ spiffe_id: DATA_SERVICE, namespace: 'data', service_account: 'data', local: true, authenticated: true });
  });
});

describe('default rules: identity cases (reference §6)', () => {
  it('allows the analytics identity, and the same identity under a configured alias', async () => {
    expectAllowed(await plain.client.check(getData(ANALYTICS)));
    expectAllowed(await plain.client.check(getData('spiffe://old.example/ns/analytics/sa/analytics')));
  });

  it('T-02: no source, or an empty principal, is denied', async () => {
    expectDenied(await plain.client.check(getData(undefined)));
    expectDenied(await plain.client.check(getData('')));
  });

  it('T-03: a DNS SAN or certificate subject as principal is denied', async () => {
    expectDenied(await plain.client.check(getData('analytics.analytics.svc.cluster.local')));
    expectDenied(await plain.client.check(getData('CN=analytics,O=analytics')));
  });

  it('T-04: a case-folded analytics identity is denied', async () => {
    expectDenied(await plain.client.check(getData('SPIFFE://Cluster.Local/ns/analytics/sa/analytics')));
    expectDenied(await plain.client.check(getData('spiffe://CLUSTER.LOCAL/ns/analytics/sa/analytics')));
  });

  it('T-05: dot segments, empty segments and a trailing slash are denied', async () => {
    for (const principal of ['spiffe://cluster.local/ns/analytics/../analytics/sa/analytics', 'spiffe://cluster.local/ns/analytics/./sa/analytics', 'spiffe://cluster.local//ns/analytics/sa/analytics', `${ANALYTICS}/`]) {
      expectDenied(await plain.client.check(getData(principal)));
    }
  });

  it('T-06: percent-encoding anywhere is denied, never decoded', async () => {
    expectDenied(await plain.client.check(getData('spiffe://cluster.local/ns/analytics/sa/%61nalytics')));
    expectDenied(await plain.client.check(getData('spiffe://cluster.local/ns%2Fanalytics/sa/analytics')));
  });

  it('T-07: query, fragment, port, userinfo, IPv6, space, NUL and non-ASCII are denied', async () => {
    for (const principal of [`${ANALYTICS}?x=1`, `${ANALYTICS}#f`, 'spiffe://cluster.local:443/ns/analytics/sa/analytics', 'spiffe://u@cluster.local/ns/analytics/sa/analytics', 'spiffe://[::1]/ns/analytics/sa/analytics', `${ANALYTICS} `, `${ANALYTICS}\u0000`, 'spiffe://cluster.local/ns/analytics/sa/analytícs']) {
      expectDenied(await plain.client.check(getData(principal)));
    }
  });

  it("T-08: Envoy's ! substitution for invalid UTF-8 is denied", async () => {
    expectDenied(await plain.client.check(getData('spiffe://cluster.local/ns/analytics/sa/analytics!')));
  });

  it('T-09: a 2049-byte and a 100k-byte principal are denied promptly', async () => {
    expectDenied(await plain.client.check(getData(`spiffe://cluster.local/ns/analytics/sa/${'a'.repeat(2049)}`)));
    const started = Date.now();
    expectDenied(await plain.client.check(getData(`spiffe://cluster.local/ns/analytics/sa/${'a'.repeat(100_000)}`)));
    expect(Date.now() - started).toBeLessThan(5_000); // a bound against pathological work, not a speed target
  });

  it('T-10: lookalikes of the analytics identity are denied', async () => {
    for (const principal of [
      'spiffe://cluster.local/ns/analytics-x/sa/analytics',
      'spiffe://cluster.local/ns/analytics/sa/analytics-reader',
      'spiffe://cluster.local/ns/analytics/sa/analytics/extra',
      'spiffe://cluster.local.evil.com/ns/analytics/sa/analytics',
      'spiffe://evil.example/ns/analytics/sa/analytics',
      'spiffe://local/ns/analytics/sa/analytics',
    ]) {
      expectDenied(await plain.client.check(getData(principal)));
    }
  });

  it('T-15: identity headers from the client (XFCC, x-spiffe-id, x-forwarded-user, x-envoy-*) never make an identity by default', async () => {
    const headers = {
      'x-forwarded-client-cert': `By=${DATA_SERVICE};URI=${ANALYTICS}`,
      'x-spiffe-id': ANALYTICS,
      'x-forwarded-user': 'analytics',
      'x-envoy-downstream-service-cluster': 'analytics',
      'x-envoy-peer-metadata-id': 'sidecar~10.0.0.1~analytics',
    };
    expectDenied(await plain.client.check(getData('', { headers })));
    expectDenied(await plain.client.check(getData('spiffe://cluster.local/ns/test/sa/default', { headers })));
  });

  it('T-16: with --xfcc, only the last element counts; a forged first element does not', async () => {
    expectAllowed(await xfcc.client.check(getData('', { headers: { 'x-forwarded-client-cert': `By=x;URI=spiffe://cluster.local/ns/test/sa/default,By=${DATA_SERVICE};Hash=ab;Subject="";URI=${ANALYTICS}` } })));
    expectDenied(await xfcc.client.check(getData('', { headers: { 'x-forwarded-client-cert': `By=x;URI=${ANALYTICS},By=${DATA_SERVICE};Hash=ab;Subject="";URI=spiffe://cluster.local/ns/test/sa/default` } })));
    // an mTLS principal always wins over the header
    expectDenied(await xfcc.client.check(getData('spiffe://cluster.local/ns/test/sa/default', { headers: { 'x-forwarded-client-cert': `By=${DATA_SERVICE};URI=${ANALYTICS}` } })));
  });

  it('T-17: with --xfcc, a malformed header, several URIs or an empty URI give no identity', async () => {
    for (const header of [`By=${DATA_SERVICE};Subject="CN=a;URI=${ANALYTICS}`, `By=${DATA_SERVICE};URI=${ANALYTICS};URI=spiffe://cluster.local/ns/x/sa/y`, `By=${DATA_SERVICE};URI=`, `By=${DATA_SERVICE};Subject="CN=a,b;c=d"`]) {
      expectDenied(await xfcc.client.check(getData('', { headers: { 'x-forwarded-client-cert': header } })));
    }
    const problems = xfcc.logs.filter((line) => line.msg === 'identity material ignored');
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });

  it('T-18: a broken peer certificate is ignored and the request denied, with no crash', async () => {
    const good = await envoyCertificate({ uris: [ANALYTICS] });
    for (const certificate of ['garbage', good.slice(0, 200), encodeURIComponent((await leafPem({ uris: [ANALYTICS] })).repeat(2))]) {
      expectDenied(await plain.client.check(getData(ANALYTICS, { certificate })));
    }
    expect(plain.logs.some((line) => line.msg === 'identity material ignored' && String(line.problems).includes('peer certificate ignored'))).toBe(true);
    expectAllowed(await plain.client.check(getData(ANALYTICS, { certificate: good })));
  });

  it('T-19: a certificate with two URI SANs is denied even when the first is analytics', async () => {
    expectDenied(await plain.client.check(getData(ANALYTICS, { certificate: await envoyCertificate({ uris: [ANALYTICS, 'spiffe://cluster.local/ns/x/sa/y'] }) })));
  });

  it('T-20: a principal that is not the certificate URI SAN (a DNS SAN spelled spiffe://) is denied', async () => {
    expectDenied(await plain.client.check(getData(ANALYTICS, { certificate: await envoyCertificate({ dns: ['analytics.example'], uris: ['spiffe://cluster.local/ns/test/sa/default'] }) })));
  });
});
