// The HTTP ext_authz service, driven with requests shaped as Envoy sends them (E-20), side by side with gRPC.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDenyStatus } from '../../src/listeners/http.js';
import { compileRego } from '../helpers/policies.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends what Envoy's HTTP ext_authz client sends: the method, path_prefix + path, the headers, the body. */
function envoyHttpCheck(port: number, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = options.body ?? '';
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: `/check${options.path}`,
        headers: { host: 'data.data.svc.cluster.local:8080', 'content-length': String(Buffer.byteLength(body)), ...options.headers },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function xfcc(uri: string): string {
  return `By=${DATA_SERVICE};Hash=ab;Subject="";URI=${uri}`;
}

let server: TestServer;
let port: number;

beforeAll(async () => {
  server = await startTestServer(['--http-addr', '127.0.0.1:0', '--http-path-prefix', '/check', '--xfcc']);
  port = server.serving.http!.port;
});

afterAll(async () => {
  await server.stop();
});

/** gRPC's answer reduced to what the HTTP contract can carry: allowed, and the client-facing status. */
function viewOfGrpc(response: CheckResponseObject): { allowed: boolean; status: number } {
  if ((response.status?.code ?? 0) === 0) return { allowed: true, status: 200 };
  const names: Record<string, number> = { Forbidden: 403, BadRequest: 400, Unauthorized: 401, PayloadTooLarge: 413 };
  return { allowed: false, status: names[response.deniedResponse.status.code] ?? -1 };
}

describe('HTTP mode decides as gRPC mode does (default rules, identity from the last XFCC element)', () => {
  const cases: [string, { source: string; method?: string; path: string; headers?: Record<string, string>; body?: string }][] = [
    ['analytics GET /api/v1/data', { source: ANALYTICS, path: '/api/v1/data?from=2026-11-01' }],
    ['analytics POST /api/v1/data', { source: ANALYTICS, method: 'POST', path: '/api/v1/data', headers: { 'content-type': 'application/json' }, body: '{"q":1}' }],
    ['analytics GET /api/v1/data/../admin', { source: ANALYTICS, path: '/api/v1/data/../admin' }],
    ['analytics GET //api/v1/data', { source: ANALYTICS, path: '//api/v1/data' }],
    ['default service account', { source: 'spiffe://cluster.local/ns/analytics/sa/default', path: '/api/v1/data' }],
    ['foreign trust domain', { source: 'spiffe://evil.example/ns/analytics/sa/analytics', path: '/api/v1/data' }],
    ['no identity', { source: '', path: '/api/v1/data' }],
    ['invalid JSON body', { source: ANALYTICS, method: 'GET', path: '/api/v1/data', headers: { 'content-type': 'application/json' }, body: '{"a": ' }],
  ];

  it.each(cases)('%s', async (_name, options) => {
    const headers = { ...options.headers, ...(options.source === '' ? {} : { 'x-forwarded-client-cert': xfcc(options.source) }) };
    const viaHttp = await envoyHttpCheck(port, { method: options.method, path: options.path, headers, body: options.body });
    const viaGrpc = await server.client.check(httpCheckRequest({ source: options.source, destination: DATA_SERVICE, method: options.method, path: options.path, headers: options.headers, body: options.body }));
    expect({ allowed: viaHttp.status === 200, status: viaHttp.status }).toEqual(viewOfGrpc(viaGrpc));
  });

  it('a forged first XFCC element does not lend its identity', async () => {
    const answer = await envoyHttpCheck(port, { path: '/api/v1/data', headers: { 'x-forwarded-client-cert': `By=x;URI=${ANALYTICS},${xfcc('spiffe://cluster.local/ns/test/sa/default')}` } });
    expect(answer.status).toBe(403);
  });

  it('a failure answers with the reason header, never 200 or 5xx', async () => {
    const answer = await envoyHttpCheck(port, { path: '/api/v1/data', headers: { 'content-type': 'application/json', 'x-forwarded-client-cert': xfcc(ANALYTICS) }, body: 'nope' });
    expect(answer.status).toBe(400);
    expect(answer.headers['x-ext-authz-reason']).toBe('request_parse_error');
    expect(answer.body).toBe('request_parse_error');
  });

  it('logs one decision line per HTTP check', async () => {
    const before = server.logs.filter((line) => line.msg === 'decision').length;
    await envoyHttpCheck(port, { path: '/api/v1/data', headers: { 'x-forwarded-client-cert': xfcc(ANALYTICS) } });
    const lines = server.logs.filter((line) => line.msg === 'decision');
    expect(lines.length).toBe(before + 1);
    expect(lines.at(-1)).toMatchObject({ allowed: true, reason: 'allowed', method: 'GET', path: '/api/v1/data' });
  });
});

describe('HTTP mode maps decisions onto the HTTP contract', () => {
  let custom: TestServer;
  beforeAll(async () => {
    const rego = `package envoy.authz
allow := {"allowed": true, "headers": {"x-user": "alice", "x-roles": ["a", "b"]}, "request_headers_to_remove": ["authorization"]} if input.attributes.request.http.path == "/ok"
allow := {"allowed": false, "http_status": 401, "body": "log in", "headers": {"www-authenticate": "Bearer"}} if input.attributes.request.http.path == "/login"
allow := {"allowed": false, "http_status": 200, "body": "looks like ok"} if input.attributes.request.http.path == "/sneaky"
allow := {"allowed": false, "http_status": 503} if input.attributes.request.http.path == "/down"
`;
    custom = await startTestServer(['--bundle', compileRego(rego), '--http-addr', '127.0.0.1:0', '--http-path-prefix', '/check', '--max-request-bytes', '2048']);
  });
  afterAll(async () => {
    await custom.stop();
  });

  it('allow: 200 with the upstream headers and x-envoy-auth-headers-to-remove', async () => {
    const answer = await envoyHttpCheck(custom.serving.http!.port, { path: '/ok' });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-user']).toBe('alice');
    expect(answer.headers['x-roles']).toBe('a, b');
    expect(answer.headers['x-envoy-auth-headers-to-remove']).toBe('authorization');
  });

  it("deny: the decision's status, headers and body", async () => {
    const answer = await envoyHttpCheck(custom.serving.http!.port, { path: '/login' });
    expect(answer).toMatchObject({ status: 401, body: 'log in' });
    expect(answer.headers['www-authenticate']).toBe('Bearer');
  });

  it('a deny never answers 200 (allow) or 5xx (an error, which fails open under failOpen): 403 instead', async () => {
    expect((await envoyHttpCheck(custom.serving.http!.port, { path: '/sneaky' })).status).toBe(403);
    expect((await envoyHttpCheck(custom.serving.http!.port, { path: '/down' })).status).toBe(403);
    expect([200, 503, 500, 100, 301, 401, 404].map(httpDenyStatus)).toEqual([403, 403, 403, 403, 301, 401, 404]);
  });

  it('a body over the size limit is a 413 deny', async () => {
    const answer = await envoyHttpCheck(custom.serving.http!.port, { method: 'POST', path: '/ok', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(5000) });
    expect(answer.status).toBe(413);
    expect(answer.headers['x-ext-authz-reason']).toBe('request_too_large');
  });
});

describe('decision log in HTTP mode', () => {
  it('names the caller the policy saw (from the last XFCC element), not the empty HTTP principal', async () => {
    await envoyHttpCheck(port, { path: '/api/v1/data', headers: { 'x-forwarded-client-cert': xfcc(ANALYTICS) } });
    expect(server.logs.filter((line) => line.msg === 'decision').at(-1)).toMatchObject({ source_principal: ANALYTICS, allowed: true });
  });
});

// A --bundle policy that copies request data (the percent-decoded path) into headers, on an allow and on a deny.
// Such a value can hold characters that Node's HTTP server cannot write; before there was one rule for
// header values, an unauthenticated HTTP request with one crashed the whole process (both listeners).
const COPYING = `package envoy.authz

allow := {"allowed": true, "headers": {"x-path": input.parsed_path[0]}, "response_headers_to_add": {"x-seen": input.parsed_path[0]}} if input.attributes.request.http.method == "GET"

allow := {"allowed": false, "http_status": 401, "headers": {"www-authenticate": input.parsed_path[0]}} if input.attributes.request.http.method != "GET"
`;

describe('a policy that copies request data into headers, in both modes', () => {
  let copying: TestServer;
  let copyingPort: number;
  beforeAll(async () => {
    copying = await startTestServer(['--bundle', compileRego(COPYING), '--http-addr', '127.0.0.1:0', '--http-path-prefix', '/check']);
    copyingPort = copying.serving.http!.port;
  });
  afterAll(async () => {
    await copying.stop();
  });

  // U+4E2D (beyond Latin-1: Node refuses it), é (Latin-1: different bytes over gRPC and HTTP), a control character.
  const UNSENDABLE = ['/%E4%B8%AD', '/caf%C3%A9', '/a%01b', '/a%7Fb'];

  it.each(['GET', 'POST'])('%s: a value that is not visible ASCII is a forbidden_mutation deny in both modes, and the server keeps serving', async (method) => {
    for (const path of UNSENDABLE) {
      const http = await envoyHttpCheck(copyingPort, { method, path });
      expect(http.status, `HTTP ${path}`).toBe(403);
      expect(http.headers['x-ext-authz-reason'], `HTTP ${path}`).toBe('forbidden_mutation');
      expect(http.headers['x-seen']).toBeUndefined();
      const grpc = await copying.client.check(httpCheckRequest({ method, path }));
      expect(grpc.status.message, `gRPC ${path}`).toBe('forbidden_mutation');
      expect(grpc.deniedResponse.status.code).toBe('Forbidden');
    }
    // Both listeners are still there, and decide as before.
    const ok = await envoyHttpCheck(copyingPort, { method, path: '/plain-ascii' });
    const grpc = await copying.client.check(httpCheckRequest({ method, path: '/plain-ascii' }));
    if (method === 'GET') {
      expect(ok).toMatchObject({ status: 200, headers: { 'x-path': 'plain-ascii', 'x-seen': 'plain-ascii' } });
      expect(grpc.status?.code ?? 0).toBe(0);
    } else {
      expect(ok).toMatchObject({ status: 401, headers: { 'www-authenticate': 'plain-ascii' } });
      expect(grpc.deniedResponse.status.code).toBe('Unauthorized');
    }
    expect(copying.logs.filter((line) => line.reason === 'forbidden_mutation')).toHaveLength(UNSENDABLE.length * 2 * (method === 'GET' ? 1 : 2));
  });
});
