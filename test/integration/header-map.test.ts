// Headers sent only in header_map (Envoy's encode_raw_headers; proxyless gRPC callers) are seen as headers by
// the rules library, the body parser and the identity stage, while the full input document keeps the
// attributes as opa-envoy-plugin renders them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRego } from '../helpers/policies.js';
import { structToJson } from '../helpers/struct.js';
import { ANALYTICS, DATA_SERVICE, httpCheckRequest, startTestServer, type CheckResponseObject, type TestServer } from '../helpers/server.js';

const RULES = `rules:
  - name: no-blocked
    action: DENY
    when: [{key: "request.headers[x-block]", values: ["yes"]}]
  - name: blue-team-reads
    action: ALLOW
    to: {principals: [cluster.local/ns/data/sa/data]}
    from: [{principals: [cluster.local/ns/analytics/sa/analytics]}]
    operations: [{methods: [GET]}]
    when: [{key: "request.headers[x-team]", values: ["blue"]}]
`;

const ECHO = 'package envoy.authz\nallow := {"allowed": true, "dynamic_metadata": {"input": input}}\n';

/** A CheckRequest whose headers are only in header_map, values as `value` or as `raw_value` bytes. */
function rawHeadersRequest(headers: [string, string, 'value' | 'raw'][], extra: { method?: string; body?: string } = {}): Record<string, unknown> {
  const request = httpCheckRequest({ source: ANALYTICS, destination: DATA_SERVICE, method: extra.method ?? 'GET', path: '/api/v1/data', ...(extra.body === undefined ? {} : { body: extra.body }) });
  const http = (request['attributes'] as { request: { http: Record<string, unknown> } }).request.http;
  delete http['headers'];
  http['headerMap'] = {
    headers: headers.map(([key, value, as]) => (as === 'value' ? { key, value } : { key, rawValue: Buffer.from(value, 'latin1').toString('base64') })),
  };
  return request;
}

const allowed = (response: CheckResponseObject): boolean => (response.status?.code ?? 0) === 0;
const servers: TestServer[] = [];
let rules: TestServer;
let echo: TestServer;

beforeAll(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'meshwarden-header-map-')), 'rules.yaml');
  writeFileSync(file, RULES);
  rules = await startTestServer(['--rules', file]);
  echo = await startTestServer(['--bundle', compileRego(ECHO)]);
  servers.push(rules, echo);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

describe('headers only in header_map', () => {
  it('are matched by the rules: an ALLOW condition and a DENY, as value or raw_value', async () => {
    for (const as of ['value', 'raw'] as const) {
      expect(allowed(await rules.client.check(rawHeadersRequest([['x-team', 'blue', as]]))), as).toBe(true);
      expect(allowed(await rules.client.check(rawHeadersRequest([['x-team', 'red', as]]))), as).toBe(false);
      const blocked = await rules.client.check(rawHeadersRequest([['x-team', 'blue', as], ['X-Block', 'yes', as]]));
      expect(allowed(blocked), as).toBe(false);
      expect(blocked.dynamicMetadata.fields.rule.stringValue).toBe('no-blocked');
    }
  });

  it('join repeated keys with a comma as Envoy does, so an ALLOW on one value does not match two', async () => {
    expect(allowed(await rules.client.check(rawHeadersRequest([['x-team', 'blue', 'value'], ['x-team', 'red', 'value']])))).toBe(false);
  });

  it('are read by the body parser: a broken JSON body with its content-type only in header_map is a parse error', async () => {
    const response = await echo.client.check(rawHeadersRequest([['content-type', 'application/json', 'value']], { method: 'POST', body: '{"broken": ' }));
    expect(response.status.message).toBe('request_parse_error');
    const parsed = await echo.client.check(rawHeadersRequest([['content-type', 'application/json', 'raw']], { method: 'POST', body: '{"ok": 1}' }));
    const input = structToJson(parsed.dynamicMetadata.fields.input.structValue) as { parsed_body: unknown; truncated_body: boolean };
    expect(input.parsed_body).toEqual({ ok: 1 });
    expect(input.truncated_body).toBe(false);
  });

  it('leave the full document as opa-envoy-plugin renders it: no headers key, header_map as sent', async () => {
    const response = await echo.client.check(rawHeadersRequest([['x-team', 'blue', 'value']]));
    const http = response.dynamicMetadata.fields.input.structValue.fields.attributes.structValue.fields.request.structValue.fields.http.structValue.fields;
    expect(http.headers).toBeUndefined();
    expect(http.headerMap.structValue.fields.headers.listValue.values[0].structValue.fields.key.stringValue).toBe('x-team');
  });
});
