// Scenario 1 (regulated data, one reader) through the real server with the embedded default policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.stop();
});

describe('embedded default policy: data service readable only by analytics with GET /api/v1/data', () => {
  it('allows analytics → data GET /api/v1/data (query string ignored)', async () => {
    for (const path of ['/api/v1/data', '/api/v1/data?from=2026-11-01&to=2026-11-02']) {
      const response = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path }));
      expect(response.status?.code ?? 0).toBe(0);
      expect(response.deniedResponse).toBeUndefined();
      expect(response.dynamicMetadata.fields.decision_id.stringValue).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  const denied: [string, Parameters<typeof httpCheckRequest>[0]][] = [
    ['POST by analytics', { source: ANALYTICS, destination: DATA_SERVICE, method: 'POST', path: '/api/v1/data' }],
    ['GET /api/v1/admin by analytics', { source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/admin' }],
    ['dot segments /api/v1/data/../admin', { source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data/../admin' }],
    ['double slash //api/v1/data', { source: ANALYTICS, destination: DATA_SERVICE, path: '//api/v1/data' }],
    ['encoded slashes /api/v1/data%2F..%2Fadmin', { source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data%2F..%2Fadmin' }],
    ['trailing slash /api/v1/data/', { source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data/' }],
    ['backslashes', { source: ANALYTICS, destination: DATA_SERVICE, path: '\\api\\v1\\data' }],
    ['default service account in the analytics namespace', { source: 'spiffe://cluster.local/ns/analytics/sa/default', destination: DATA_SERVICE, path: '/api/v1/data' }],
    ['plaintext caller (empty principal)', { source: '', destination: DATA_SERVICE, path: '/api/v1/data' }],
    ['no source at all', { destination: DATA_SERVICE, path: '/api/v1/data' }],
    [
      'identity headers set to analytics by a caller that is not analytics',
      {
        source: 'spiffe://cluster.local/ns/test/sa/default',
        destination: DATA_SERVICE,
        path: '/api/v1/data',
        headers: {
          'x-forwarded-client-cert': `By=${DATA_SERVICE};Hash=00;Subject="";URI=${ANALYTICS}`,
          'x-spiffe-id': ANALYTICS,
          'x-envoy-downstream-service-cluster': 'analytics',
        },
      },
    ],
    ['foreign trust domain with the same path', { source: 'spiffe://evil.example/ns/analytics/sa/analytics', destination: DATA_SERVICE, path: '/api/v1/data' }],
    ['case-folded identity', { source: 'SPIFFE://Cluster.Local/ns/analytics/sa/analytics', destination: DATA_SERVICE, path: '/api/v1/data' }],
    ['another destination', { source: ANALYTICS, destination: 'spiffe://cluster.local/ns/billing/sa/billing', path: '/api/v1/data' }],
  ];

  it.each(denied)('denies %s with PERMISSION_DENIED and an explicit 403', async (_name, request) => {
    const response = await server.client.check(httpCheckRequest(request));
    expect(response.status.code).toBe(7);
    expect(response.deniedResponse.status.code).toBe('Forbidden');
    expect(response.okResponse).toBeUndefined();
  });

  it('logs one line per decision without credentials', async () => {
    const before = server.logs.length;
    await server.client.check(
      httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data?token=abc', headers: { authorization: 'Bearer secret-token', cookie: 'session=secret-cookie' } }),
    );
    const lines = server.logs.slice(before).filter((line) => line.msg === 'decision');
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({ allowed: true, reason: 'allowed', source_principal: ANALYTICS, method: 'GET', path: '/api/v1/data', level: 'info' });
    expect(line.decision_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof line.duration_us).toBe('number');
    const raw = JSON.stringify(server.logs.slice(before));
    expect(raw).not.toContain('secret-token');
    expect(raw).not.toContain('secret-cookie');
    expect(raw).not.toContain('token=abc');
  });
});
