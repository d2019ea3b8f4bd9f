// Scenario 1 (regulated data, one reader) through the real server started without --rules or --bundle: the
// embedded default rules file (policies/default/rules.yaml) served with the built-in rules library.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULES_FILE } from '../../src/package-paths.js';
import { RULES_DECISION, RULES_POLICY_BUNDLE } from '../../src/rules/library.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';
import { structToJson } from '../helpers/struct.js';
import { ROOT } from '../helpers/tools.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.stop();
});

function deniedHeader(response: CheckResponseObject, name: string): string | undefined {
  return (response.deniedResponse?.headers ?? []).find((option: { header: { key: string } }) => option.header.key === name)?.header.value;
}

describe('the embedded default: the regulated-data rules file', () => {
  it('is the example rules file of scenario 1, rule for rule', () => {
    const rules = (text: string): string => text.split('\n').filter((line) => !line.startsWith('#')).join('\n');
    expect(DEFAULT_RULES_FILE).toBe(join(ROOT, 'policies', 'default', 'rules.yaml'));
    expect(rules(readFileSync(DEFAULT_RULES_FILE, 'utf8'))).toBe(rules(readFileSync(join(ROOT, 'examples', 'rules', 'regulated-data.yaml'), 'utf8')));
  });

  it('is served with the rules library, and the serving log line names the rules file', () => {
    const policy = server.serving.policies.current!;
    expect(policy.source).toBe(RULES_POLICY_BUNDLE);
    expect(policy.decision).toBe(RULES_DECISION);
    expect(server.logs.find((line) => line.msg === 'serving')).toMatchObject({ policy: RULES_POLICY_BUNDLE, rules: DEFAULT_RULES_FILE, decision: RULES_DECISION, revision: policy.revision });
  });
});

describe('embedded default: data service readable only by analytics with GET /api/v1/data', () => {
  it('allows analytics → data GET /api/v1/data (query string ignored), naming the rule', async () => {
    for (const path of ['/api/v1/data', '/api/v1/data?from=2026-11-01&to=2026-11-02']) {
      const response = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path }));
      expect(response.status?.code ?? 0).toBe(0);
      expect(response.deniedResponse).toBeUndefined();
      const metadata = structToJson(response.dynamicMetadata);
      expect(metadata).toMatchObject({ rule: 'analytics-reads-data', reason: 'allowed_by_rule', shadow_denies: [] });
      expect(metadata['decision_id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  // Requests to the data service that its one ALLOW rule does not match: no_allow_rule_matched.
  const denied: [string, Parameters<typeof httpCheckRequest>[0]][] = [
    ['POST by analytics', { source: ANALYTICS, destination: DATA_SERVICE, method: 'POST', path: '/api/v1/data' }],
    ['DELETE by analytics', { source: ANALYTICS, destination: DATA_SERVICE, method: 'DELETE', path: '/api/v1/data' }],
    ['GET /api/v1/admin by analytics', { source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/admin' }],
    ['dot segments /api/v1/data/../admin', { source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data/../admin' }],
    ['double slash //api/v1/data', { source: ANALYTICS, destination: DATA_SERVICE, path: '//api/v1/data' }],
    ['encoded slashes /api/v1/data%2F..%2Fadmin', { source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data%2F..%2Fadmin' }],
    ['encoded slash /api%2Fv1/data', { source: ANALYTICS, destination: DATA_SERVICE, path: '/api%2Fv1/data' }],
    ['trailing slash /api/v1/data/', { source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data/' }],
    ['backslashes', { source: ANALYTICS, destination: DATA_SERVICE, path: '\\api\\v1\\data' }],
    ['default service account in the analytics namespace', { source: 'spiffe://cluster.local/ns/analytics/sa/default', destination: DATA_SERVICE, path: '/api/v1/data' }],
    ['another workload', { source: 'spiffe://cluster.local/ns/billing/sa/billing', destination: DATA_SERVICE, path: '/api/v1/data' }],
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
    ['identity headers set to analytics by a plaintext caller', { source: '', destination: DATA_SERVICE, path: '/api/v1/data', headers: { 'x-forwarded-client-cert': `By=${DATA_SERVICE};URI=${ANALYTICS}`, 'x-spiffe-id': ANALYTICS } }],
    ['foreign trust domain with the same path', { source: 'spiffe://evil.example/ns/analytics/sa/analytics', destination: DATA_SERVICE, path: '/api/v1/data' }],
    ['case-folded identity', { source: 'SPIFFE://Cluster.Local/ns/analytics/sa/analytics', destination: DATA_SERVICE, path: '/api/v1/data' }],
  ];

  it.each(denied)('denies %s: PERMISSION_DENIED, 403, reason no_allow_rule_matched', async (_name, request) => {
    const response = await server.client.check(httpCheckRequest(request));
    expect(response.status.code).toBe(7);
    expect(response.deniedResponse.status.code).toBe('Forbidden');
    expect(response.okResponse).toBeUndefined();
    expect(structToJson(response.dynamicMetadata)).toMatchObject({ rule: 'default', reason: 'no_allow_rule_matched' });
    expect(deniedHeader(response, 'x-ext-authz-reason')).toBe('no_allow_rule_matched');
  });

  it('denies analytics → another destination, which no rule names: reason default_deny', async () => {
    for (const destination of ['spiffe://cluster.local/ns/billing/sa/billing', 'spiffe://cluster.local/ns/data/sa/default', '']) {
      const response = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination, path: '/api/v1/data' }));
      expect(response.status.code, destination).toBe(7);
      expect(response.deniedResponse.status.code).toBe('Forbidden');
      expect(structToJson(response.dynamicMetadata)).toMatchObject({ rule: 'default', reason: 'default_deny' });
    }
  });

  it('logs one line per decision, naming the rule, the request id, both principals and the host, without credentials', async () => {
    const before = server.logs.length;
    await server.client.check(
      httpCheckRequest({
        source: ANALYTICS,
        destination: DATA_SERVICE,
        path: '/api/v1/data?token=abc',
        headers: { authorization: 'Bearer secret-token', cookie: 'session=secret-cookie', 'x-request-id': '7f3c9a52-1b1e-4d2b-9a51-2f7e8c0d4e11' },
      }),
    );
    await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: 'POST', path: '/api/v1/data', headers: { 'x-request-id': 'x'.repeat(5000) } }));
    await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: 'spiffe://cluster.local/ns/other/sa/other', path: '/api/v1/data' }));
    const lines = server.logs.slice(before).filter((line) => line.msg === 'decision');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      allowed: true,
      reason: 'allowed',
      rule: 'analytics-reads-data',
      source_principal: ANALYTICS,
      destination_principal: DATA_SERVICE,
      host: 'data.data.svc.cluster.local:8080',
      request_id: '7f3c9a52-1b1e-4d2b-9a51-2f7e8c0d4e11',
      method: 'GET',
      path: '/api/v1/data',
      level: 'info',
    });
    expect(lines[0]!.decision_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof lines[0]!.duration_us).toBe('number');
    // The reason is the response's (x-ext-authz-reason): no rule of the destination allowed it, or no rule names it.
    expect(lines[1]).toMatchObject({ allowed: false, reason: 'no_allow_rule_matched', rule: 'default', method: 'POST' });
    // A caller's x-request-id is cut to a bounded length, marked as cut.
    expect(lines[1]!.request_id).toBe('x'.repeat(1024) + '…(+3976 characters)');
    expect(lines[2]).toMatchObject({ allowed: false, reason: 'default_deny', rule: 'default', destination_principal: 'spiffe://cluster.local/ns/other/sa/other' });
    expect(lines[2]).not.toHaveProperty('request_id');
    const raw = JSON.stringify(server.logs.slice(before));
    expect(raw).not.toContain('secret-token');
    expect(raw).not.toContain('secret-cookie');
    expect(raw).not.toContain('token=abc');
  });

  it('reloads (SIGHUP) to the same rules: same revision, still deciding', async () => {
    const revision = server.serving.policies.current!.revision;
    expect(await server.serving.reload()).toBe(true);
    expect(server.serving.policies.current!.revision).toBe(revision);
    expect(server.logs.find((line) => line.msg === 'policy reloaded')).toMatchObject({ rules: DEFAULT_RULES_FILE, revision });
    const response = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }));
    expect(response.status?.code ?? 0).toBe(0);
  });
});

describe('embedded default under another trust domain: cluster.local in the rules means the local one and its aliases', () => {
  let local: TestServer;
  beforeAll(async () => {
    local = await startTestServer(['--trust-domain', 'prod.example', '--trust-domain-aliases', 'old.example']);
  });
  afterAll(async () => {
    await local.stop();
  });

  it.each([
    ['local analytics → local data', 'spiffe://prod.example/ns/analytics/sa/analytics', 'spiffe://prod.example/ns/data/sa/data', 'allowed_by_rule'],
    ['alias analytics → local data', 'spiffe://old.example/ns/analytics/sa/analytics', 'spiffe://prod.example/ns/data/sa/data', 'allowed_by_rule'],
    ['local analytics → alias data', 'spiffe://prod.example/ns/analytics/sa/analytics', 'spiffe://old.example/ns/data/sa/data', 'allowed_by_rule'],
    ['cluster.local analytics (now foreign) → local data', ANALYTICS, 'spiffe://prod.example/ns/data/sa/data', 'no_allow_rule_matched'],
    ['local analytics → cluster.local data (now foreign)', 'spiffe://prod.example/ns/analytics/sa/analytics', DATA_SERVICE, 'default_deny'],
  ])('%s: %s', async (_name, source, destination, reason) => {
    const response = await local.client.check(httpCheckRequest({ source, destination, path: '/api/v1/data' }));
    expect((response.status?.code ?? 0) === 0).toBe(reason === 'allowed_by_rule');
    expect(structToJson(response.dynamicMetadata)['reason']).toBe(reason);
  });
});
