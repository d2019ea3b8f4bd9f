// Issue 13 (hardening), over real sockets: what a caller sends cannot make the server keep it (caches bounded
// in bytes), and requests over the path and header limits are denied before any policy with their reason.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_CACHE_MAX_BYTES, identityCacheUsage } from '../../src/identity/identity.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.stop();
});

function reasonOf(response: Record<string, any>): string | undefined {
  return response['dynamicMetadata']?.fields?.reason?.stringValue;
}

describe('caches bounded in bytes, over gRPC', () => {
  it('1,000 distinct 1 MiB principals are all denied and none is kept', { timeout: 120_000 }, async () => {
    const before = identityCacheUsage().principals.bytes;
    const CONCURRENCY = 8;
    let next = 0;
    const reasons = new Map<string, number>();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < 1000) {
          const i = next++;
          const principal = `spiffe://cluster.local/ns/attacker-${i}/sa/` + 'p'.repeat(1024 * 1024);
          const response = await server.client.check(httpCheckRequest({ source: principal, destination: DATA_SERVICE, path: '/api/v1/data' }), { deadlineMs: 30_000 });
          expect(response['status']?.code).toBe(7);
          const reason = reasonOf(response) ?? '?';
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        }
      }),
    );
    expect(Object.fromEntries(reasons)).toEqual({ no_allow_rule_matched: 1000 });
    const after = identityCacheUsage().principals.bytes;
    expect(after).toBeLessThanOrEqual(IDENTITY_CACHE_MAX_BYTES);
    expect(after - before).toBeLessThan(64 * 1024); // the few real principals of the other calls at most
    // The real caller is still allowed.
    const allowed = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data' }));
    expect(allowed['status']?.code ?? 0).toBe(0);
  });
});

const LATE_HEADER_RULES = `default: allow
rules:
  - name: block-flagged
    action: DENY
    when:
      - key: "request.headers[x-block]"
        values: ["yes"]
  - name: block-admin
    action: DENY
    operations: [{paths: [/admin]}]
`;

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
}

/** Writes a request head as raw bytes (node's client would not send 3,000 header lines as given) and reads the answer's head. */
function rawHttp(port: number, head: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer within 20 s'));
    }, 20_000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      clearTimeout(timer);
      socket.destroy();
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(statusLine!.split(' ')[1]), headers });
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(head);
  });
}

function headWith(path: string, headerLines: string[]): string {
  return `GET ${path} HTTP/1.1\r\nhost: data.data.svc.cluster.local\r\n${headerLines.map((line) => `${line}\r\n`).join('')}content-length: 0\r\n\r\n`;
}

const filler = (count: number): string[] => Array.from({ length: count }, (_, i) => `x-filler-${i}: ${i}`);

describe('HTTP mode reads every header line or denies (issue 13 item 9)', () => {
  let rulesServer: TestServer;
  let lowCountServer: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshwarden-bounds-'));
    writeFileSync(join(dir, 'rules.yaml'), LATE_HEADER_RULES);
    rulesServer = await startTestServer(['--rules', join(dir, 'rules.yaml'), '--http-addr', '127.0.0.1:0']);
    lowCountServer = await startTestServer(['--rules', join(dir, 'rules.yaml'), '--http-addr', '127.0.0.1:0', '--max-header-count', '2000']);
  });

  afterAll(async () => {
    await Promise.all([rulesServer?.stop(), lowCountServer?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a DENY on the 3,001st header line fires', async () => {
    const port = rulesServer.serving.http!.port;
    expect((await rawHttp(port, headWith('/api', filler(3000)))).status).toBe(200);
    const denied = await rawHttp(port, headWith('/api', [...filler(3000), 'x-block: yes']));
    expect(denied.status).toBe(403);
    expect(denied.headers['x-ext-authz-reason']).toBe('denied_by_rule');
  });

  it('more header lines than the listener reads: 431 headers_too_large, never a decision on the prefix', async () => {
    const port = lowCountServer.serving.http!.port;
    expect((await rawHttp(port, headWith('/api', filler(1990)))).status).toBe(200);
    for (const lines of [filler(2001), [...filler(3000), 'x-block: yes'], filler(3000)]) {
      const answer = await rawHttp(port, headWith('/api', lines));
      expect(answer.status).toBe(431);
      expect(answer.headers['x-ext-authz-reason']).toBe('headers_too_large');
    }
  });

  it('a head bigger than the limits allow is a 431 with the reason, from node:http itself', async () => {
    const port = rulesServer.serving.http!.port;
    const answer = await rawHttp(port, headWith('/api', [`x-big: ${'b'.repeat(2 * 1024 * 1024)}`]));
    expect(answer.status).toBe(431);
    expect(answer.headers['x-ext-authz-reason']).toBe('headers_too_large');
  });

  it('a path over --max-path-bytes: 414 path_too_long; just under it, the rules decide', async () => {
    const port = rulesServer.serving.http!.port;
    const long = await rawHttp(port, headWith('/api/' + 'a'.repeat(64 * 1024), []));
    expect([long.status, long.headers['x-ext-authz-reason']]).toEqual([414, 'path_too_long']);
    const under = await rawHttp(port, headWith('/admin/' + '%41'.repeat(20_000), []));
    expect(under.status).toBe(200); // /admin/AAAA… is not /admin: the DENY rule is exact
    expect((await rawHttp(port, headWith('/%61dmin', []))).status).toBe(403);
  });
});

describe('path and header limits over gRPC (issue 13 item 4)', () => {
  it('denies an over-long path with 414 and over-large headers with 431, before the policy', async () => {
    const path = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data?' + 'q'.repeat(70_000) }));
    expect([path['status']?.code, path['deniedResponse']?.status?.code, reasonOf(path)]).toEqual([7, 'URITooLong', 'path_too_long']);
    const headers = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data', headers: { 'x-big': 'h'.repeat(1024 * 1024) } }));
    expect([headers['status']?.code, headers['deniedResponse']?.status?.code, reasonOf(headers)]).toEqual([7, 'RequestHeaderFieldsTooLarge', 'headers_too_large']);
    const many = Object.fromEntries(filler(10_001).map((line) => line.split(': ') as [string, string]));
    const count = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data', headers: many }));
    expect(reasonOf(count)).toBe('headers_too_large');
    // Within the limits the same caller is allowed.
    const fine = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1/data', headers: { 'x-big': 'h'.repeat(500_000) } }));
    expect(fine['status']?.code ?? 0).toBe(0);
  });
});
