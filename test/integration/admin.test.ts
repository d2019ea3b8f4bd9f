// The admin endpoint of a running server: probes and Prometheus metrics.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compileRego } from '../helpers/policies.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { makeTempDir } from '../helpers/temp.js';

let server: TestServer;
let base: string;
let bundle: string;

beforeAll(async () => {
  bundle = join(makeTempDir('meshwarden-admin-'), 'policy.tar.gz');
  // A policy file of its own, so that the test can break it: GET is allowed, anything else denied.
  copyFileSync(compileRego('package envoy.authz\ndefault allow := false\nallow if input.attributes.request.http.method == "GET"\n'), bundle);
  server = await startTestServer(['--shadow', '--bundle', bundle]);
  base = `http://127.0.0.1:${server.serving.admin!.port}`;
});

afterAll(async () => {
  await server.stop();
});

it('answers /healthz and /readyz with 200 while a policy is loaded', async () => {
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  const ready = await fetch(`${base}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.text()).toBe('ready\n');
});

it('counts decisions by result and reason, shadow denies, latency, policy loads and the revision in Prometheus text', async () => {
  await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }));
  await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: 'DELETE', path: '/api/v1/data' }));
  await server.client.check({});
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await response.text();
  expect(text).toContain('meshwarden_decisions_total{result="allow",reason="allowed"} 1');
  expect(text).toContain('meshwarden_decisions_total{result="allow",reason="shadow_denied"} 1');
  expect(text).toContain('meshwarden_decisions_total{result="deny",reason="missing_attributes"} 1');
  expect(text).toContain('meshwarden_decisions_total{result="deny",reason="policy_denied"} 0');
  expect(text).toContain('meshwarden_shadow_denies_total 1');
  expect(text).toContain('meshwarden_check_duration_seconds_count 3');
  expect(text).toContain('meshwarden_policy_loads_total{result="success"} 1');
  expect(text).toContain(`meshwarden_policy_revision_info{revision="${server.serving.policies.current!.revision}"} 1`);
});

it('counts reloads by result and keeps the revision in force after a failed one', async () => {
  const revision = server.serving.policies.current!.revision;
  expect(await server.serving.reload()).toBe(true);
  writeFileSync(bundle, 'not a policy');
  expect(await server.serving.reload()).toBe(false);
  const text = await (await fetch(`${base}/metrics`)).text();
  expect(text).toContain('meshwarden_policy_loads_total{result="success"} 2');
  expect(text).toContain('meshwarden_policy_loads_total{result="failure"} 1');
  expect(text).toContain(`meshwarden_policy_revision_info{revision="${revision}"} 1`);
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
});

it('answers unknown paths with 404 and other methods with 405', async () => {
  expect((await fetch(`${base}/nope`)).status).toBe(404);
  expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
});
