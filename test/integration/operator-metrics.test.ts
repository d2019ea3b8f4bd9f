// What an operator scrapes from the admin endpoint: decisions by the response's reason, decisions by rule (bounded
// by the rules file), the process and Node.js metrics, the build info and latency buckets past the providers' 0.5 s.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_VERSION } from '../../src/package-paths.js';
import { compileRego } from '../helpers/policies.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { makeTempDir } from '../helpers/temp.js';

const REPORTS = 'spiffe://cluster.local/ns/reports/sa/reports';

const RULES = `rules:
  - name: analytics-reads-data
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
    operations: [{methods: [GET], paths: [/api/v1/data]}]
  - name: no-deletes
    action: DENY
    to: {principals: [cluster.local/ns/data/sa/data]}
    operations: [{methods: [DELETE]}]
  - name: never-used
    action: ALLOW
    to: {principals: [cluster.local/ns/reports/sa/reports]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
`;

let dir: string;

async function metricsOf(server: TestServer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.serving.admin!.port}/metrics`)).text();
}

beforeAll(() => {
  dir = makeTempDir('meshwarden-operator-metrics-');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('a rules file served', () => {
  let server: TestServer;
  beforeAll(async () => {
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, RULES);
    server = await startTestServer(['--rules', rules]);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('counts decisions under the response reason and the rule that made them; every declared rule has its series from the start', async () => {
    const before = await metricsOf(server);
    expect(before).toContain('meshwarden_rule_decisions_total{rule="never-used",result="allow"} 0');
    expect(before).toContain('meshwarden_rule_decisions_total{rule="default",result="deny"} 0');
    expect(before).toContain('meshwarden_decisions_total{result="deny",reason="default_deny"} 0');

    await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }));
    await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }));
    await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: 'POST', path: '/api/v1/data' }));
    await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: 'DELETE', path: '/api/v1/data' }));
    await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: 'spiffe://cluster.local/ns/nobody/sa/nobody', path: '/api/v1/data' }));
    await server.client.check(httpCheckRequest({ source: REPORTS, destination: DATA_SERVICE, path: '/api/v1/data' }));

    const text = await metricsOf(server);
    expect(text).toContain('meshwarden_decisions_total{result="allow",reason="allowed"} 2');
    expect(text).toContain('meshwarden_decisions_total{result="deny",reason="no_allow_rule_matched"} 2');
    expect(text).toContain('meshwarden_decisions_total{result="deny",reason="denied_by_rule"} 1');
    expect(text).toContain('meshwarden_decisions_total{result="deny",reason="default_deny"} 1');
    expect(text).toContain('meshwarden_decisions_total{result="deny",reason="policy_denied"} 0');
    expect(text).toContain('meshwarden_rule_decisions_total{rule="analytics-reads-data",result="allow"} 2');
    expect(text).toContain('meshwarden_rule_decisions_total{rule="no-deletes",result="deny"} 1');
    expect(text).toContain('meshwarden_rule_decisions_total{rule="default",result="deny"} 3');
    expect(text).toContain('meshwarden_rule_decisions_total{rule="never-used",result="allow"} 0');
    expect(text).toContain('meshwarden_rule_decisions_total{rule="other",result="deny"} 0');
  });

  it('exposes the process and Node.js metrics, the build info and latency buckets past the 0.5 s provider timeout', async () => {
    const text = await metricsOf(server);
    for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds']) {
      expect(text, name).toMatch(new RegExp(`^${name}`, 'm'));
    }
    expect(text).toContain(`meshwarden_build_info{version="${PACKAGE_VERSION}",node_version="${process.versions.node}"} 1`);
    expect(text).toMatch(/^meshwarden_check_duration_seconds_bucket\{le="0.5"\} \d+$/m);
    expect(text).toMatch(/^meshwarden_check_duration_seconds_bucket\{le="1"\} \d+$/m);
  });
});

describe('a Rego bundle that names its rule from the request', () => {
  let server: TestServer;
  beforeAll(async () => {
    // A policy whose "rule" is whatever path the caller asked for: the per-rule metric must not grow with it.
    const bundle = compileRego(
      'package envoy.authz\nallow := {"allowed": false, "dynamic_metadata": {"rule": input.attributes.request.http.path, "reason": "no_allow_rule_matched"}}\n',
    );
    server = await startTestServer(['--bundle', bundle]);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('counts every rule it names as other, and takes the reason only from the fixed vocabulary', async () => {
    for (let i = 0; i < 20; i++) await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: `/random/${i}` }));
    const text = await metricsOf(server);
    expect(text).toContain('meshwarden_rule_decisions_total{rule="other",result="deny"} 20');
    expect(text.split('\n').filter((line) => line.startsWith('meshwarden_rule_decisions_total{'))).toHaveLength(1);
    expect(text).toContain('meshwarden_decisions_total{result="deny",reason="no_allow_rule_matched"} 20');
    expect(server.logs.filter((line) => line.msg === 'decision').at(-1)).toMatchObject({ rule: '/random/19', reason: 'no_allow_rule_matched' });
  });
});
