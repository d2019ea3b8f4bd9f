// Every failure is an explicit deny carried in a CheckResponse, never an RPC error or an empty response.
import { DEFAULT_REQUEST_LIMITS } from '../../src/check/limits.js';
import { afterAll, describe, expect, it } from 'vitest';
import { createAnswerer } from '../../src/check/answer.js';
import { createTrustDomains } from '../../src/identity/spiffe.js';
import { createLogger } from '../../src/logger.js';
import { createDecisionMetrics } from '../../src/metrics.js';
import { loadEnvoyApi } from '../../src/envoy/protos.js';
import { startServer } from '../../src/listeners/grpc.js';
import { BufferBudget } from '../../src/listeners/buffer-budget.js';
import { compileRego } from '../helpers/policies.js';
import { ANALYTICS, DATA_SERVICE, createClient, httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];

async function serverWith(rego: string, args: string[] = []): Promise<TestServer> {
  const server = await startTestServer(['--bundle', compileRego(rego), ...args]);
  servers.push(server);
  return server;
}

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

function expectFailClosed(response: CheckResponseObject, reason: string, httpStatus: string): void {
  expect(response.status.code).toBe(7);
  expect(response.status.message).toBe(reason);
  expect(response.okResponse).toBeUndefined();
  expect(response.deniedResponse.status.code).toBe(httpStatus);
  expect(response.deniedResponse.headers).toEqual([
    { header: { key: 'x-ext-authz-reason', value: reason }, append: { value: false }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ]);
  expect(response.deniedResponse.body).toBe(reason);
  expect(response.dynamicMetadata.fields.decision_id.stringValue).toHaveLength(36);
  expect(response.dynamicMetadata.fields.reason.stringValue).toBe(reason);
}

const ALLOW_ALL = 'package envoy.authz\nallow := true\n';

describe('fail closed', () => {
  it('T-01: an empty CheckRequest is denied (missing_attributes), not answered with an empty response', async () => {
    const server = await serverWith(ALLOW_ALL);
    expectFailClosed(await server.client.check({}), 'missing_attributes', 'Forbidden');
    expectFailClosed(await server.client.check({ attributes: {} }), 'missing_attributes', 'Forbidden');
  });

  it('an undefined decision is denied (undefined_decision)', async () => {
    const server = await serverWith('package envoy.authz\nallow if input.attributes.request.http.method == "NEVER"\n');
    expectFailClosed(await server.client.check(httpCheckRequest({})), 'undefined_decision', 'Forbidden');
    const log = server.logs.find((line) => line.reason === 'undefined_decision');
    expect(log).toMatchObject({ level: 'error', allowed: false, msg: 'decision' });
  });

  it('an evaluation error (conflicting complete rules) is denied (evaluation_error) with the error only in the log', async () => {
    const server = await serverWith('package envoy.authz\nallow := true if input.attributes.request.http\nallow := false if input.attributes.request.http\n');
    const response = await server.client.check(httpCheckRequest({}));
    expectFailClosed(response, 'evaluation_error', 'Forbidden');
    expect(JSON.stringify(response)).not.toMatch(/conflict/i);
    expect(String(server.logs.find((line) => line.reason === 'evaluation_error')?.error)).toMatch(/conflict|multiple/i);
  });

  it('a result that is neither boolean nor object is denied (invalid_decision)', async () => {
    const server = await serverWith('package envoy.authz\nallow := 1\n');
    expectFailClosed(await server.client.check(httpCheckRequest({})), 'invalid_decision', 'Forbidden');
  });

  it('a mistyped key is denied (invalid_decision), even on an allow', async () => {
    const server = await serverWith('package envoy.authz\nallow := {"allowed": true, "request_headers_to_remove": "foo"}\n');
    expectFailClosed(await server.client.check(httpCheckRequest({})), 'invalid_decision', 'Forbidden');
  });

  it('a mutation Envoy forbids is denied (forbidden_mutation)', async () => {
    for (const headers of ['{":path": "/admin"}', '{"host": "evil"}', '{"x-envoy-original-path": "/x"}']) {
      const server = await serverWith(`package envoy.authz\nallow := {"allowed": true, "headers": ${headers}}\n`);
      expectFailClosed(await server.client.check(httpCheckRequest({})), 'forbidden_mutation', 'Forbidden');
    }
  });

  it('an unparseable body is a 400 deny (request_parse_error) without the parser message', async () => {
    const server = await serverWith(ALLOW_ALL);
    const response = await server.client.check(httpCheckRequest({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a": ' }));
    expectFailClosed(response, 'request_parse_error', 'BadRequest');
    expect(server.logs.find((line) => line.reason === 'request_parse_error')?.error).toMatch(/JSON/);
  });

  it('T-24: a CheckRequest over the size limit is a 413 deny, not a transport error', async () => {
    const server = await serverWith(ALLOW_ALL, ['--max-request-bytes', '1048576']);
    const big = 'x'.repeat(6 * 1024 * 1024); // also over grpc-js's default 4 MiB receive limit
    const response = await server.client.check(httpCheckRequest({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: big }));
    expectFailClosed(response, 'request_too_large', 'PayloadTooLarge');
    const small = await server.client.check(httpCheckRequest({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(1000) }));
    expect(small.status?.code ?? 0).toBe(0);
  });

  it('no policy loaded is a 503 deny (no_policy), and health is not SERVING', async () => {
    const lines: string[] = [];
    const api = loadEnvoyApi();
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
    const context = {
      policy: () => undefined,
      shadow: false,
      skipBodyParse: false,
      validStatuses: api.envoyStatusCodes,
      identity: { trustDomains: createTrustDomains({ local: 'cluster.local' }), xfcc: false },
      limits: DEFAULT_REQUEST_LIMITS,
    };
    const running = await startServer({
      address: { host: '127.0.0.1', port: 0 },
      maxRequestBytes: 1024 * 1024,
      maxConnections: 16,
      maxStreamsPerConnection: 16,
      callTimeoutMs: 2_000,
      idleTimeoutMs: 60_000,
      budget: new BufferBudget(64 * 1024 * 1024),
      logger,
      answer: createAnswerer({ context, logger, metrics: createDecisionMetrics() }),
    });
    const client = createClient(`127.0.0.1:${running.port}`);
    try {
      expectFailClosed(await client.check(httpCheckRequest({})), 'no_policy', 'ServiceUnavailable');
    } finally {
      client.close();
      await running.shutdown(1000);
    }
  });
});

describe('shadow mode', () => {
  it('lets a policy deny pass, and logs and counts it as a shadow deny', async () => {
    const server = await startTestServer(['--shadow']);
    servers.push(server);
    const response = await server.client.check(httpCheckRequest({ source: 'spiffe://cluster.local/ns/analytics/sa/default', destination: DATA_SERVICE, path: '/api/v1/data' }));
    expect(response.status?.code ?? 0).toBe(0);
    expect(response.deniedResponse).toBeUndefined();
    expect(server.logs.find((line) => line.msg === 'decision')).toMatchObject({ allowed: true, reason: 'shadow_denied' });
    const allowed = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }));
    expect(allowed.status?.code ?? 0).toBe(0);
    expect(server.logs.filter((line) => line.msg === 'decision').map((line) => line.reason)).toEqual(['shadow_denied', 'allowed']);
  });

  it('does not mask failures: a bad body is still denied', async () => {
    const server = await startTestServer(['--shadow']);
    servers.push(server);
    const response = await server.client.check(httpCheckRequest({ method: 'POST', headers: { 'content-type': 'application/json' }, body: 'nope' }));
    expectFailClosed(response, 'request_parse_error', 'BadRequest');
  });
});
