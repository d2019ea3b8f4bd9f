// Secrets in logs: secrets and other request content planted in every place a request can carry them (headers,
// header_map, the query, JSON, form and multipart bodies, raw bodies, context extensions, malformed bodies
// whose parse errors used to quote them), sent over gRPC and over the HTTP listener, at every log level.
// Every log line is searched: no request content at info and above; at debug and trace, no secret.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRego } from '../helpers/policies.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';

// A policy that reads everything, so it is handed the full input document (the one the debug log shows).
// A request with x-conflict fails in evaluation (two values for one rule): an error-level decision line.
const POLICY = `package envoy.authz
allow := true if input.attributes.request.http.method == "GET"
allow := false if input.attributes.request.http.method != "GET"
allow := "conflict" if input.attributes.request.http.headers["x-conflict"]
`;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Values that must never be logged at any level, with the forms they may take in the input (base64 for bytes). */
const SECRETS = [
  'SECRET-QUERY',
  'SECRET-QUERY-2',
  'SECRET-HEADER',
  'SECRET-COOKIE',
  'SECRET-BEARER',
  'SECRET-MAP',
  'SECRET-RAWMAP',
  'SECRET-FORM',
  'SECRET-JSON',
  'SECRET-MULTI',
  'SECRET-RAWBODY',
  'SECRET-CONTEXT',
  'SECRET-CUSTOM',
  'SECRET-BROKEN-JSON',
  'SECRET-BROKEN-PART',
];
const b64 = (text: string): string => Buffer.from(text).toString('base64');
// Request content that is not secret by name, which still must not appear at info and above.
const CONTENT = ['CONTENT-HEADER', 'CONTENT-QUERY', 'CONTENT-BODY', 'CONTENT-PARTNAME', 'CONTENT-CONTEXT', 'CONTENT-XFCC'];

const BOUNDARY = 'xYzZY';
const multipart = (parts: [name: string, type: string, content: string][]): string =>
  parts.map(([name, type, content]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\nContent-Type: ${type}\r\n\r\n${content}\r\n`).join('') + `--${BOUNDARY}--\r\n`;

/** The planted requests, each with the headers, query and body that carry them (the source is analytics). */
const PLANTED: { name: string; method: string; path: string; headers: Record<string, string>; body?: string }[] = [
  {
    name: 'headers and query',
    method: 'GET',
    path: '/api/v1/data?access_token=SECRET-QUERY&note=CONTENT-QUERY&X-Auth-Token=SECRET-QUERY-2',
    headers: { 'x-auth-token': 'SECRET-HEADER', cookie: 'sid=SECRET-COOKIE', authorization: 'Bearer SECRET-BEARER', 'x-note': 'CONTENT-HEADER', 'x-tenant-key': 'SECRET-CUSTOM' },
  },
  { name: 'form body', method: 'POST', path: '/api/v1/data', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'user=CONTENT-BODY&password=SECRET-FORM' },
  { name: 'JSON body', method: 'POST', path: '/api/v1/data', headers: { 'content-type': 'application/json' }, body: '{"user":"CONTENT-BODY","client_secret":"SECRET-JSON"}' },
  {
    name: 'multipart body',
    method: 'POST',
    path: '/api/v1/data',
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    body: multipart([['CONTENT-PARTNAME', 'text/plain', 'CONTENT-BODY'], ['password', 'text/plain', 'SECRET-MULTI']]),
  },
  { name: 'malformed JSON body', method: 'POST', path: '/api/v1/data', headers: { 'content-type': 'application/json' }, body: 'SECRET-BROKEN-JSON CONTENT-BODY' },
  { name: 'malformed JSON part', method: 'POST', path: '/api/v1/data', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: multipart([['CONTENT-PARTNAME', 'application/json', '{"a": SECRET-BROKEN-PART}']]) },
];

/** Sends one planted request as Envoy's HTTP ext_authz client would. */
function viaHttp(port: number, planted: (typeof PLANTED)[number]): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = planted.body ?? '';
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: planted.method,
        path: planted.path,
        timeout: 5000,
        headers: { host: 'data.data.svc.cluster.local:8080', 'content-length': String(Buffer.byteLength(body)), ...planted.headers },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode!));
      },
    );
    request.on('timeout', () => request.destroy(new Error('HTTP check timed out')));
    request.on('error', reject);
    request.end(body);
  });
}

/** Sends every planted request over gRPC (with context extensions, a header_map and a raw body too) and HTTP. */
async function plantEverywhere(server: TestServer): Promise<void> {
  for (const planted of PLANTED) {
    const request = httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: planted.method, path: planted.path, headers: planted.headers, body: planted.body });
    (request['attributes'] as Record<string, unknown>)['contextExtensions'] = { 'backend-secret': 'SECRET-CONTEXT', zone: 'CONTENT-CONTEXT' };
    await server.client.check(request);
    await viaHttp(server.serving.http!.port, planted);
  }
  // Envoy's other header shape, and a body sent as bytes.
  const mapped = httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data?token=SECRET-QUERY' });
  const http = (mapped['attributes'] as any).request.http;
  delete http.headers;
  http.headerMap = {
    headers: [
      { key: ':path', value: '/api/v1/data?token=SECRET-QUERY' },
      { key: 'x-auth-token', value: 'SECRET-MAP' },
      { key: 'cookie', rawValue: Buffer.from('sid=SECRET-RAWMAP').toString('base64') },
      { key: 'x-note', value: 'CONTENT-HEADER' },
    ],
  };
  await server.client.check(mapped);
  await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data?token=SECRET-QUERY', headers: { 'x-conflict': 'CONTENT-HEADER', 'x-auth-token': 'SECRET-HEADER' } }));
  // A forged client certificate header without an mTLS identity: ignored, and logged at warn.
  await server.client.check(httpCheckRequest({ destination: DATA_SERVICE, path: '/api/v1/data', headers: { 'x-forwarded-client-cert': 'By=CONTENT-XFCC;URI=spiffe://a/CONTENT-XFCC;URI=spiffe://b/CONTENT-XFCC' } }));
  await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: 'POST', path: '/api/v1/data', headers: { 'content-type': 'text/plain' }, rawBody: Buffer.from('SECRET-RAWBODY CONTENT-BODY').toString('base64') }));
}

const servers = new Map<(typeof LEVELS)[number], TestServer>();

beforeAll(async () => {
  const bundle = compileRego(POLICY);
  for (const level of LEVELS) {
    const server = await startTestServer(['--bundle', bundle, '--log-level', level, '--http-addr', '127.0.0.1:0', '--xfcc', '--log-redact', 'x-tenant-key']);
    servers.set(level, server);
    await plantEverywhere(server);
  }
});

afterAll(async () => {
  await Promise.all([...servers.values()].map((server) => server.stop()));
});

/** A log line and every way a planted value could be in it. */
const textOf = (line: unknown): string => JSON.stringify(line);

describe.each(LEVELS)('at log level %s', (level) => {
  it('no log line holds a secret, in any form', () => {
    const lines = servers.get(level)!.logs;
    // Decisions are logged at info, parse failures and ignored identity material at warn, evaluation failures at error.
    if (level === 'trace' || level === 'debug' || level === 'info') expect(lines.filter((line) => line.msg === 'decision').length).toBeGreaterThanOrEqual(2 * PLANTED.length + 4);
    // Nothing a request does is fatal: at that level the log stays empty.
    if (level === 'fatal') expect(lines).toEqual([]);
    else expect(lines.some((line) => line.msg === 'decision' && line['reason'] === 'evaluation_error')).toBe(true);
    if (level !== 'error' && level !== 'fatal') {
      expect(lines.some((line) => line.msg === 'identity material ignored')).toBe(true);
      // The malformed bodies, over gRPC and HTTP, are denied and logged at warn with their error.
      expect(lines.filter((line) => line.msg === 'decision' && line['reason'] === 'request_parse_error').length).toBeGreaterThanOrEqual(4);
    }
    for (const line of lines) {
      const text = textOf(line);
      for (const secret of SECRETS) {
        expect(text, `${secret} in ${text.slice(0, 300)}`).not.toContain(secret);
        expect(text, `${secret} (base64) in a line`).not.toContain(b64(secret).slice(0, 12));
      }
    }
  });

  if (level === 'debug' || level === 'trace') {
    it('the debug input is logged, with the secrets redacted and the rest kept', () => {
      const inputs = servers.get(level)!.logs.filter((line) => line.msg === 'policy input');
      expect(inputs.length).toBeGreaterThan(0);
      const text = inputs.map(textOf).join('\n');
      for (const content of ['CONTENT-HEADER', 'CONTENT-QUERY', 'CONTENT-PARTNAME', 'CONTENT-CONTEXT']) expect(text).toContain(content);
      expect(text).toContain('[redacted]');
    });
  } else {
    it('no log line holds any request content (headers, query, bodies, part names, context)', () => {
      const lines = servers.get(level)!.logs;
      for (const line of lines) {
        const text = textOf(line);
        for (const content of CONTENT) expect(text, `${content} in ${text.slice(0, 300)}`).not.toContain(content);
      }
      if (level === 'info') {
        // The malformed bodies were denied and logged with a reason and a content-free error.
        const failures = lines.filter((line) => line.msg === 'decision' && line['reason'] === 'request_parse_error');
        expect(failures.map((line) => line['error'])).toEqual(expect.arrayContaining([expect.stringMatching(/^invalid JSON body: unexpected token$/), expect.stringMatching(/^invalid multipart body: part 1: invalid JSON: unexpected token$/)]));
      }
    });
  }
});

describe('the rules library at debug level (its smaller input holds only what the rules name)', () => {
  it('the headers, query parameters and context extensions its rules test are redacted when named like secrets', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'meshwarden-log-secrets-')), 'rules.yaml');
    writeFileSync(
      file,
      `rules:
  - name: tokens-are-not-identities
    action: DENY
    when:
      - {key: "request.headers[x-auth-token]", values: [never]}
      - {key: "request.query[access_token]", values: [never]}
      - {key: "context[backend-secret]", values: [never]}
      - {key: "request.headers[x-note]", values: [never]}
  - name: analytics-reads
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
`,
    );
    const server = await startTestServer(['--rules', file, '--log-level', 'debug']);
    try {
      await plantEverywhereOverGrpc(server);
      const inputs = server.logs.filter((line) => line.msg === 'policy input');
      expect(inputs.length).toBeGreaterThan(0);
      const text = inputs.map(textOf).join('\n');
      expect(text).toContain('CONTENT-HEADER');
      for (const redacted of ['"x-auth-token":"[redacted]"', '"access_token":["[redacted]"]', '"backend-secret":"[redacted]"']) expect(text).toContain(redacted);
      for (const line of server.logs) {
        const text = textOf(line);
        for (const secret of SECRETS) expect(text, `${secret} in ${text.slice(0, 300)}`).not.toContain(secret);
      }
    } finally {
      await server.stop();
    }
  });
});

/** The gRPC half of plantEverywhere, for a server without the HTTP listener. */
async function plantEverywhereOverGrpc(server: TestServer): Promise<void> {
  for (const planted of PLANTED) {
    const request = httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: planted.method, path: planted.path, headers: { ...planted.headers, 'x-note': 'CONTENT-HEADER' }, body: planted.body });
    (request['attributes'] as Record<string, unknown>)['contextExtensions'] = { 'backend-secret': 'SECRET-CONTEXT', zone: 'CONTENT-CONTEXT' };
    await server.client.check(request);
  }
}
