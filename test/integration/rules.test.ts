// Service-to-service rules through the real server (`serve --rules`): every scenario of reference
// scenarios.md, shadow rules named in the log and metrics, and live reload without a failed request.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';
import { ROOT } from '../helpers/tools.js';
import { makeTempDir } from '../helpers/temp.js';

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

async function serveRules(file: string, args: string[] = []): Promise<TestServer> {
  const server = await startTestServer(['--rules', file, ...args]);
  servers.push(server);
  return server;
}

const example = (name: string): string => join(ROOT, 'examples', 'rules', name);
const id = (td: string, ns: string, sa: string): string => `spiffe://${td}/ns/${ns}/sa/${sa}`;
const allowed = (response: CheckResponseObject): boolean => (response.status?.code ?? 0) === 0;

function check(server: TestServer, source: string, destination: string, method: string, path: string): Promise<CheckResponseObject> {
  return server.client.check(httpCheckRequest({ source, destination, method, path }));
}

describe('scenario 1: regulated data, one reader (six lines of YAML)', () => {
  it('allows only analytics GET /api/v1/data and denies every other case of the scenario', async () => {
    const server = await serveRules(example('regulated-data.yaml'), ['--trust-domain-aliases', 'old.example']);
    const data = id('cluster.local', 'data', 'data');
    const analytics = id('cluster.local', 'analytics', 'analytics');
    expect(allowed(await check(server, analytics, data, 'GET', '/api/v1/data'))).toBe(true);
    expect(allowed(await check(server, id('old.example', 'analytics', 'analytics'), data, 'GET', '/api/v1/data'))).toBe(true);
    for (const [method, path] of [['POST', '/api/v1/data'], ['GET', '/api/v1/admin'], ['GET', '/api/v1/data/../admin'], ['GET', '//api/v1/data'], ['GET', '/api/v1/data%2F..%2Fadmin']]) {
      const response = await check(server, analytics, data, method!, path!);
      expect(allowed(response), `${method} ${path}`).toBe(false);
      expect(response.deniedResponse.status.code).toBe('Forbidden');
    }
    for (const source of [id('cluster.local', 'analytics', 'default'), '', id('evil.example', 'analytics', 'analytics')]) {
      expect(allowed(await check(server, source, data, 'GET', '/api/v1/data')), source).toBe(false);
    }
    const spoofed = httpCheckRequest({ source: '', destination: data, path: '/api/v1/data', headers: { 'x-forwarded-client-cert': `By=${data};URI=${analytics}`, 'x-spiffe-id': analytics } });
    expect(allowed(await server.client.check(spoofed))).toBe(false);
  });

  it('names the deciding rule in dynamic metadata and in the decision log', async () => {
    const server = await serveRules(example('regulated-data.yaml'));
    const response = await check(server, id('cluster.local', 'analytics', 'analytics'), id('cluster.local', 'data', 'data'), 'GET', '/api/v1/data');
    expect(response.dynamicMetadata.fields.rule.stringValue).toBe('analytics-reads-data');
    await check(server, id('cluster.local', 'analytics', 'default'), id('cluster.local', 'data', 'data'), 'GET', '/api/v1/data');
    const lines = server.logs.filter((line) => line.msg === 'decision');
    expect(lines.map((line) => [line.allowed, line.rule])).toEqual([
      [true, 'analytics-reads-data'],
      [false, 'default'],
    ]);
  });
});

describe('scenario 2: default deny with named exceptions', () => {
  it('prop accepts only the frontend on its API paths; admin paths and unknown services are denied', async () => {
    const server = await serveRules(example('default-deny-frontend.yaml'));
    const prop = id('cluster.local', 'prop', 'prop');
    const frontend = id('cluster.local', 'frontend', 'frontend');
    expect(allowed(await check(server, frontend, prop, 'GET', '/api/items'))).toBe(true);
    expect(allowed(await check(server, frontend, prop, 'GET', '/api/admin/users'))).toBe(false);
    expect(allowed(await check(server, frontend, prop, 'GET', '/api/x/../admin/users'))).toBe(false);
    expect(allowed(await check(server, id('cluster.local', 'other', 'other'), prop, 'GET', '/api/items'))).toBe(false);
    expect(allowed(await check(server, frontend, id('cluster.local', 'new', 'new'), 'GET', '/api/items'))).toBe(false);
  });
});

describe('scenario 3: where a workload runs (a trust domain per region)', () => {
  it('only callers from the eu-central trust domain read customer data', async () => {
    const server = await serveRules(example('eu-only.yaml'), ['--trust-domain', 'eu-central.mesh.example', '--federated-trust-domains', 'us-east.mesh.example']);
    const customers = id('eu-central.mesh.example', 'customers', 'api');
    expect(allowed(await check(server, id('eu-central.mesh.example', 'billing', 'billing'), customers, 'GET', '/customers/42'))).toBe(true);
    expect(allowed(await check(server, id('us-east.mesh.example', 'billing', 'billing'), customers, 'GET', '/customers/42'))).toBe(false);
  });
});

describe('scenario 4: authentication required', () => {
  it('service-a reaches service-b only with a valid, accepted identity', async () => {
    const server = await serveRules(example('authenticated-only.yaml'));
    const b = id('cluster.local', 'default', 'service-b');
    expect(allowed(await check(server, id('cluster.local', 'default', 'service-a'), b, 'GET', '/v1/things'))).toBe(true);
    for (const source of ['', 'service-a.default.svc', 'SPIFFE://cluster.local/ns/default/sa/service-a', id('other.example', 'default', 'service-a')]) {
      expect(allowed(await check(server, source, b, 'GET', '/v1/things')), source).toBe(false);
    }
  });
});

describe('negative conditions and missing identities (T-02)', () => {
  it('an ALLOW with notNamespaces never admits a plaintext caller; a DENY with notNamespaces or notPrincipals "*" stops one', async () => {
    const dir = makeTempDir('meshwarden-negative-');
    const file = join(dir, 'rules.yaml');
    writeFileSync(
      file,
      `default: allow
rules:
  - name: data-from-frontend-only
    action: DENY
    to: {namespaces: [data]}
    from: [{notNamespaces: [frontend]}]
  - name: reports-not-from-batch
    action: ALLOW
    to: {namespaces: [reports]}
    from: [{notNamespaces: [batch]}]
  - name: vault-needs-mtls
    action: DENY
    to: {namespaces: [vault]}
    from: [{notPrincipals: ["*"]}]
`,
    );
    const server = await serveRules(file);
    const data = id('cluster.local', 'data', 'data');
    const reports = id('cluster.local', 'reports', 'reports');
    const decided = async (source: string, destination: string): Promise<[boolean, string]> => {
      const response = await check(server, source, destination, 'GET', '/');
      return [allowed(response), response.dynamicMetadata.fields.rule.stringValue];
    };
    expect(await decided(id('cluster.local', 'frontend', 'web'), data)).toEqual([true, 'default']);
    expect(await decided(id('cluster.local', 'batch', 'job'), data)).toEqual([false, 'data-from-frontend-only']);
    expect(await decided('', data)).toEqual([false, 'data-from-frontend-only']);
    expect(await decided('spiffe://evil.example/ns/frontend/sa/web', data)).toEqual([false, 'data-from-frontend-only']);
    expect(await decided(id('cluster.local', 'web', 'web'), reports)).toEqual([true, 'reports-not-from-batch']);
    expect(await decided(id('cluster.local', 'batch', 'job'), reports)).toEqual([false, 'default']);
    expect(await decided('', reports)).toEqual([false, 'default']);
    const vault = id('cluster.local', 'vault', 'vault');
    expect(await decided('', vault)).toEqual([false, 'vault-needs-mtls']);
    expect(await decided('spiffe://evil.example/ns/a/sa/a', vault)).toEqual([false, 'vault-needs-mtls']);
    expect(await decided(id('cluster.local', 'batch', 'job'), vault)).toEqual([true, 'default']);
  });
});

describe('scenario 5: rolling out a new rule in shadow mode, then enforcing it without a restart', () => {
  it('a shadow DENY lets the request pass, names the rule in the log and metrics; enforcing it is a live reload', async () => {
    const dir = makeTempDir('meshwarden-rules-');
    const file = join(dir, 'rules.yaml');
    copyFileSync(example('shadow-rollout.yaml'), file);
    const server = await serveRules(file);
    const orders = id('cluster.local', 'orders', 'orders');
    const writer = id('cluster.local', 'batch', 'batch-writer');
    expect(allowed(await check(server, writer, orders, 'POST', '/orders'))).toBe(true);
    expect(server.logs.filter((line) => line.msg === 'decision').at(-1)).toMatchObject({ allowed: true, reason: 'shadow_denied', shadow_rules: ['batch-stops-writing-orders'] });
    const metrics = await (await fetch(`http://127.0.0.1:${server.serving.admin!.port}/metrics`)).text();
    expect(metrics).toContain('meshwarden_rule_shadow_denies_total{rule="batch-stops-writing-orders"} 1');

    writeFileSync(file, readFileSync(file, 'utf8').replace('shadow: true', 'shadow: false'));
    await waitFor(() => server.logs.some((line) => line.msg === 'policy reloaded'));
    expect(allowed(await check(server, writer, orders, 'POST', '/orders'))).toBe(false);
    expect(allowed(await check(server, writer, orders, 'GET', '/orders'))).toBe(true);
  });
});

describe('live reload', () => {
  it('an invalid rules file is rejected with the rule and line named, and the last good rules keep serving', async () => {
    const dir = makeTempDir('meshwarden-rules-');
    const file = join(dir, 'rules.yaml');
    copyFileSync(example('regulated-data.yaml'), file);
    const server = await serveRules(file);
    const request = httpCheckRequest({ source: id('cluster.local', 'analytics', 'analytics'), destination: id('cluster.local', 'data', 'data'), path: '/api/v1/data' });
    writeFileSync(file, readFileSync(file, 'utf8').replace('action: ALLOW', 'action: PERMIT'));
    await waitFor(() => server.logs.some((line) => line.msg.startsWith('policy reload failed')));
    const failure = server.logs.find((line) => line.msg.startsWith('policy reload failed'))!;
    expect(String(failure.error)).toMatch(/rules\.yaml:3: rule "analytics-reads-data"/);
    expect(allowed(await server.client.check(request))).toBe(true);
  });

  it('swaps rules under load with no failed or mis-decided request', async () => {
    const dir = makeTempDir('meshwarden-rules-');
    const file = join(dir, 'rules.yaml');
    copyFileSync(example('regulated-data.yaml'), file);
    const server = await serveRules(file);
    const allowedRequest = httpCheckRequest({ source: id('cluster.local', 'analytics', 'analytics'), destination: id('cluster.local', 'data', 'data'), path: '/api/v1/data' });
    const deniedRequest = httpCheckRequest({ source: id('cluster.local', 'analytics', 'default'), destination: id('cluster.local', 'data', 'data'), path: '/api/v1/data' });
    // The new file adds a rule for another destination: the two requests above must decide the same throughout.
    const next = readFileSync(file, 'utf8') + '  - name: billing-reads-ledger\n    action: ALLOW\n    to: {principals: [cluster.local/ns/ledger/sa/ledger]}\n    from: [{namespaces: [billing]}]\n';
    let swapped = false;
    const load = (async () => {
      const results: boolean[] = [];
      for (let i = 0; i < 300; i++) {
        const [a, d] = await Promise.all([server.client.check(allowedRequest), server.client.check(deniedRequest)]);
        results.push(allowed(a) === true && allowed(d) === false);
        if (i === 50) {
          writeFileSync(file, next);
          swapped = true;
        }
      }
      return results;
    })();
    const results = await load;
    expect(swapped).toBe(true);
    await waitFor(() => server.logs.some((line) => line.msg === 'policy reloaded'));
    expect(results.every(Boolean)).toBe(true);
    const decisions = server.logs.filter((line) => line.msg === 'decision');
    expect(decisions.every((line) => line.level === 'info')).toBe(true); // no failure reasons
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
