// Repeated headers and query parameters against the rules, over gRPC (Envoy has already joined a repeated
// header with `,`) and over the HTTP listener (the header really is sent twice): a DENY on one value cannot
// be slipped past by repeating or joining, and an ALLOW never matches an ambiguous, several-valued one.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type TestServer } from '../helpers/server.js';

const RULES = `
rules:
  - name: blocked-header
    action: DENY
    when: [{key: "request.headers[x-block]", values: ["yes"]}]
  - name: blocked-query
    action: DENY
    when: [{key: "request.query[block]", values: ["yes"]}]
  - name: blocked-object-names
    action: DENY
    when: [{key: "request.headers[constructor]", values: ["yes"]}]
  - name: blocked-proto
    action: DENY
    when: [{key: "request.headers[__proto__]", values: ["yes"]}]
  - name: blocked-admin-host
    action: DENY
    operations: [{hosts: [admin.example.com]}]
  - name: blue-team-header
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
    operations: [{paths: ["/api/*"]}]
    when: [{key: "request.headers[x-team]", values: [blue]}]
  - name: blue-team-query
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
    operations: [{paths: ["/query/*"]}]
    when: [{key: "request.query[team]", values: [blue]}]
`;

let server: TestServer;
let httpPort: number;

beforeAll(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'meshwarden-repeated-')), 'rules.yaml');
  writeFileSync(file, RULES);
  server = await startTestServer(['--rules', file, '--http-addr', '127.0.0.1:0', '--http-path-prefix', '/check', '--xfcc']);
  httpPort = server.serving.http!.port;
});

afterAll(async () => {
  await server.stop();
});

/** gRPC, as Envoy sends it: repeated headers arrive joined with `,`. */
async function grpcDecision(path: string, headers: Record<string, string>): Promise<{ allowed: boolean; rule: string }> {
  const response = await server.client.check(httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path, headers }));
  return { allowed: (response.status?.code ?? 0) === 0, rule: response.dynamicMetadata.fields.rule.stringValue as string };
}

/** HTTP mode, as Envoy's HTTP client sends it: each value of a repeated header on a line of its own. */
function httpDecision(path: string, headers: Record<string, string | string[]>): Promise<{ status: number; reason: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: httpPort, method: 'GET', path: `/check${path}`, timeout: 5000 }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode!, reason: response.headers['x-ext-authz-reason'] as string | undefined }));
    });
    request.setHeader('host', 'data.data.svc.cluster.local:8080');
    request.setHeader('x-forwarded-client-cert', `By=${DATA_SERVICE};Hash=ab;Subject="";URI=${ANALYTICS}`);
    // An array is sent as one header line per element.
    for (const [name, value] of Object.entries(headers)) request.setHeader(name, value);
    request.on('timeout', () => request.destroy(new Error('HTTP check timed out')));
    request.on('error', reject);
    request.end();
  });
}

describe('a DENY on one header value cannot be bypassed by repeating the header', () => {
  it.each([['yes,yes'], ['no,yes'], ['yes,no'], ['no, yes'], ['no,\tyes']])('gRPC, joined by Envoy: %j', async (value) => {
    expect(await grpcDecision('/api/v1', { 'x-team': 'blue', 'x-block': value })).toEqual({ allowed: false, rule: 'blocked-header' });
  });

  it.each([[['yes', 'yes']], [['no', 'yes']], [['yes', 'no']], [['no', 'no', 'yes']]])('HTTP, sent as separate lines: %j', async (values) => {
    expect(await httpDecision('/api/v1', { 'x-team': 'blue', 'x-block': values })).toEqual({ status: 403, reason: 'denied_by_rule' });
  });

  it('gRPC with header_map (encode_raw_headers): each entry of a repeated header counts', async () => {
    const withHeaderMap = (entries: { key: string; value?: string; rawValue?: string }[]) => {
      const request = httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, path: '/api/v1' });
      const http = (request['attributes'] as any).request.http;
      http.headerMap = { headers: [...Object.entries(http.headers as Record<string, string>).map(([key, value]) => ({ key, value })), { key: 'x-team', value: 'blue' }, ...entries] };
      delete http.headers;
      return server.client.check(request);
    };
    const raw = (text: string) => Buffer.from(text).toString('base64');
    for (const entries of [[{ key: 'x-block', value: 'no' }, { key: 'x-block', value: 'yes' }], [{ key: 'x-block', rawValue: raw('no') }, { key: 'x-block', rawValue: raw('yes') }]]) {
      const response = await withHeaderMap(entries);
      expect((response.status?.code ?? 0) === 0, JSON.stringify(entries)).toBe(false);
      expect(response.dynamicMetadata.fields.rule.stringValue).toBe('blocked-header');
    }
    const allowed = await withHeaderMap([{ key: 'x-block', rawValue: raw('no') }]);
    expect(allowed.dynamicMetadata.fields.rule.stringValue).toBe('blue-team-header');
  });

  it('values the DENY does not name still pass, in both modes', async () => {
    expect(await grpcDecision('/api/v1', { 'x-team': 'blue', 'x-block': 'no,nope' })).toEqual({ allowed: true, rule: 'blue-team-header' });
    expect(await httpDecision('/api/v1', { 'x-team': 'blue', 'x-block': ['no', 'nope'] })).toEqual({ status: 200, reason: undefined });
  });
});

describe('headers named like object properties are headers like any other', () => {
  it('HTTP: constructor and __proto__, once and repeated', async () => {
    for (const name of ['constructor', '__proto__']) {
      expect(await httpDecision('/api/v1', { 'x-team': 'blue', [name]: 'yes' }), name).toEqual({ status: 403, reason: 'denied_by_rule' });
      expect(await httpDecision('/api/v1', { 'x-team': 'blue', [name]: ['no', 'yes'] }), name).toEqual({ status: 403, reason: 'denied_by_rule' });
      expect(await httpDecision('/api/v1', { 'x-team': 'blue', [name]: 'no' }), name).toEqual({ status: 200, reason: undefined });
    }
  });
});

describe('two Host headers (HTTP mode joins them as Envoy joins headers)', () => {
  it('a DENY on a host fires when either is it; an ALLOW matches neither', async () => {
    for (const hosts of [['data.data.svc.cluster.local:8080', 'admin.example.com'], ['admin.example.com', 'data.data.svc.cluster.local:8080']]) {
      expect(await httpDecision('/api/v1', { 'x-team': 'blue', host: hosts }), hosts.join(' + ')).toEqual({ status: 403, reason: 'denied_by_rule' });
    }
    expect(await httpDecision('/api/v1', { 'x-team': 'blue', host: ['data.data.svc.cluster.local:8080', 'www.example.com'] })).toEqual({ status: 200, reason: undefined });
  });
});

describe('a DENY on one query value fires when the parameter repeats', () => {
  it('gRPC and HTTP', async () => {
    for (const query of ['block=no&block=yes', 'block=yes&block=no', 'block=yes&block=yes']) {
      expect(await grpcDecision(`/api/v1?${query}`, { 'x-team': 'blue' }), query).toEqual({ allowed: false, rule: 'blocked-query' });
      expect(await httpDecision(`/api/v1?${query}`, { 'x-team': 'blue' }), query).toEqual({ status: 403, reason: 'denied_by_rule' });
    }
  });
});

describe('an ALLOW never matches a several-valued header or query parameter', () => {
  it('one value allows; the same value repeated, or joined with another, does not', async () => {
    expect(await grpcDecision('/api/v1', { 'x-team': 'blue' })).toEqual({ allowed: true, rule: 'blue-team-header' });
    expect(await httpDecision('/api/v1', { 'x-team': 'blue' })).toEqual({ status: 200, reason: undefined });
    for (const value of ['blue,blue', 'blue,red', 'red, blue']) {
      expect(await grpcDecision('/api/v1', { 'x-team': value }), value).toEqual({ allowed: false, rule: 'default' });
    }
    for (const values of [['blue', 'blue'], ['red', 'blue']]) {
      expect(await httpDecision('/api/v1', { 'x-team': values }), values.join(' + ')).toEqual({ status: 403, reason: 'no_allow_rule_matched' });
    }
  });

  it('the same for a query parameter', async () => {
    expect(await grpcDecision('/query/x?team=blue', {})).toEqual({ allowed: true, rule: 'blue-team-query' });
    expect(await httpDecision('/query/x?team=blue', {})).toEqual({ status: 200, reason: undefined });
    for (const query of ['team=blue&team=blue', 'team=red&team=blue']) {
      expect(await grpcDecision(`/query/x?${query}`, {}), query).toEqual({ allowed: false, rule: 'default' });
      expect(await httpDecision(`/query/x?${query}`, {}), query).toEqual({ status: 403, reason: 'no_allow_rule_matched' });
    }
  });
});
