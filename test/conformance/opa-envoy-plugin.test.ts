// Conformance with opa-envoy-plugin (OEP), checked against two real references:
//  (a) the documented facts of OEP's behaviour (reference opa-envoy-plugin.md §1–2 and §4.1, exact values);
//  (b) OPA itself: every decision case evaluates the same Rego in meshwarden's wasm path and in a real
//      `opa run --server` (Go evaluator, 127.0.0.1) on the very input document meshwarden built, and the
//      decisions must be identical.
// Every case sends a real CheckRequest over a real socket to a real meshwarden server (grpc-js client).
// The input document is read back through an "echo" policy that returns `input` in dynamic_metadata.
//
// Deliberate differences from OEP (meshwarden's documented behaviour is asserted; named in the test titles):
//  D1 items 22–24 and §2.5: eval errors, undefined decisions, illegal or mistyped results fail closed with a
//     CheckResponse (status 7, DeniedHttpResponse 403, x-ext-authz-reason header, reason in status.message),
//     not a gRPC error.
//  D2 item 17: boolean `false` carries an explicit DeniedHttpResponse with status 403 (OEP sets none and
//     Envoy's default 403 applies).
//  D3 item 8, §1.3/§1.4 parse errors: 400 with body "request_parse_error" and an x-ext-authz-reason header;
//     the parser's error text is not echoed (OEP: body and message "request_parse_error: <err>").
//  D4 §2.3: an object decision's recognised keys are validated on both branches (OEP ignores a bad
//     `http_status`/`body` on an allow).
//  D5 §2.3: every HeaderValueOption sets `append` and `append_action`; the 2nd and later values of one key
//     append (APPEND_IF_EXISTS_OR_ADD), the first overwrites (OEP sets neither).
//  D6 §1.1: two keys are added, never changed: `source` and `destination`, the peers' parsed SPIFFE
//     identities (src/identity/identity.ts). Every opa-envoy-plugin key keeps its name and value.
//
// Not applicable to a v3 gRPC server without these features (not tested):
//  item 4 (v2 half): no envoy.service.auth.v2 API; item 26: decision-logger
//  failure and deadlines before evaluation (no decision-log plugin; evaluation is synchronous);
//  item 27: OEP/OPA configuration file (meshwarden has its own flags).
// Item 14 (gRPC bodies with `--proto-descriptor`) is tested in test/unit/grpc-body.test.ts (every §1.5 rule and
// item 14's exact values) and test/integration/grpc-body.test.ts (served); here only "no descriptor → null".
import { Buffer } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInput } from '../../src/check/input.js';
import { type Attributes } from '../../src/envoy/types.js';
import { compileRego } from '../helpers/policies.js';
import { httpCheckRequest, startTestServer, type CheckResponseObject } from '../helpers/server.js';
import { MeshwardenPool, expectedViewOfOpaResult, startOpa, structToJson, viewOfResponse, type OpaServer } from './harness.js';

// ---------------------------------------------------------------------------------------------------------
// Setup

interface Policy {
  name: string;
  rego: string;
  entrypoint: string;
}

/** Each case's policy lives in its own package, so OPA can hold all of them at once. */
function policy(name: string, rules: string): Policy {
  return { name, rego: `package conf.${name}\n\n${rules}\n`, entrypoint: `conf/${name}/allow` };
}

const ECHO = policy('echo', 'allow := {"allowed": true, "dynamic_metadata": {"input": input}}');

const pool = new MeshwardenPool();
let opa: OpaServer;
const loadedInOpa = new Set<string>();

beforeAll(async () => {
  opa = await startOpa();
});

afterAll(async () => {
  await pool.stopAll();
  await opa?.stop();
});

type Request = Record<string, any>;

async function check(p: Policy, request: Request, args: string[] = []): Promise<CheckResponseObject> {
  const server = await pool.get(p.rego, p.entrypoint, args);
  return server.client.check(request);
}

/** The input document meshwarden builds for `request`, read back through the echo policy. */
async function inputOf(request: Request, args: string[] = []): Promise<Record<string, any>> {
  const response = await check(ECHO, request, args);
  expect(response.status?.code ?? 0, 'the echo policy allows').toBe(0);
  return structToJson(response.dynamicMetadata).input as Record<string, any>;
}

async function opaQuery(p: Policy, inputJson: string) {
  if (!loadedInOpa.has(p.name)) {
    await opa.putPolicy(p.name, p.rego);
    loadedInOpa.add(p.name);
  }
  return opa.query(p.entrypoint, inputJson);
}

/**
 * The differential: meshwarden's answer for `request` must be the answer OPA's result maps to under the
 * OEP contract (plus D2), on the input meshwarden built. Returns both sides for further assertions.
 */
async function differential(p: Policy, request: Request, args: string[] = []) {
  const response = await check(p, request, args);
  const input = await inputOf(request, args.filter((arg) => arg === '--skip-body-parse'));
  const answer = await opaQuery(p, JSON.stringify(input));
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect('result' in answer.body, 'OPA has a result').toBe(true);
  const expected = expectedViewOfOpaResult(answer.body.result);
  expect(expected, `OEP can map OPA's result ${JSON.stringify(answer.body.result)}`).toBeDefined();
  expect(viewOfResponse(response)).toEqual(expected);
  return { response, input, result: answer.body.result as any };
}

function decisionIdOf(response: CheckResponseObject): string {
  return structToJson(response.dynamicMetadata).decision_id as string;
}

function expectDecisionId(response: CheckResponseObject): void {
  expect(decisionIdOf(response)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(decisionIdOf(response)).toHaveLength(36);
}

type HeaderRow = [key: string, value: string, append: boolean];

/** D5: exact HeaderValueOptions with `append` and `append_action` set on each. */
function headerOptions(rows: HeaderRow[]) {
  return rows.map(([key, value, append]) => ({
    header: { key, value },
    append: { value: append },
    appendAction: append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD',
  }));
}

/** Headers from a Rego object come in an unspecified order (Go map / wasm object): compare sorted by key. */
function byKey<T extends { header: { key: string } }>(options: T[] | undefined): T[] {
  return [...(options ?? [])].sort((a, b) => (a.header.key < b.header.key ? -1 : a.header.key > b.header.key ? 1 : 0));
}

/** D1/D3: meshwarden's explicit fail-closed deny. */
function expectFailClosed(response: CheckResponseObject, reason: string, httpStatus: 'Forbidden' | 'BadRequest'): void {
  expect(response.status?.code).toBe(7);
  expect(response.status?.message).toBe(reason);
  expect(response.okResponse).toBeUndefined();
  expect(response.deniedResponse.status.code).toBe(httpStatus);
  expect(response.deniedResponse.headers).toEqual(headerOptions([['x-ext-authz-reason', reason, false]]));
  expect(response.deniedResponse.body).toBe(reason);
  expectDecisionId(response);
  expect(structToJson(response.dynamicMetadata).reason).toBe(reason);
}

function post(path: string, headers: Record<string, string>, body?: { body?: string; rawBody?: string }): Request {
  return httpCheckRequest({ method: 'POST', path, headers, ...body });
}

const JSON_TYPE = { 'content-type': 'application/json' };
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };
const MULTIPART_TYPE = { 'content-type': 'multipart/form-data; boundary=foo' };
const MULTIPART_BODY =
  '--foo\r\nContent-Disposition: form-data; name="foo"\r\n\r\nbar\r\n' +
  '--foo\r\nContent-Disposition: form-data; name="bar"\r\nContent-Type: application/json\r\n\r\n{"name":"bar"}\r\n' +
  '--foo--\r\n';

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

// ---------------------------------------------------------------------------------------------------------
// §1 The input document

describe('§1 input: parsed_path and parsed_query (items 1–3, §1.3)', () => {
  it('item 1: "/my/test/path?a=1&a=2&x=y" → ["my","test","path"], {"a":["1","2"],"x":["y"]}', async () => {
    const input = await inputOf(httpCheckRequest({ path: '/my/test/path?a=1&a=2&x=y' }));
    expect(input.parsed_path).toEqual(['my', 'test', 'path']);
    expect(input.parsed_query).toEqual({ a: ['1', '2'], x: ['y'] });
  });

  it('item 1: no query → parsed_query {} (also for an empty query after "?")', async () => {
    const input = await inputOf(httpCheckRequest({ path: '/my/test/path' }));
    expect(input.parsed_path).toEqual(['my', 'test', 'path']);
    expect(input.parsed_query).toEqual({});
    expect((await inputOf(httpCheckRequest({ path: '/my/test/path?' }))).parsed_query).toEqual({});
  });

  it('item 2: "%2Fmy%2Ftest%2Fpath?a=1&a=new%0aline" → ["my","test","path"], a=["1","new\\nline"]', async () => {
    const input = await inputOf(httpCheckRequest({ path: '%2Fmy%2Ftest%2Fpath?a=1&a=new%0aline' }));
    expect(input.parsed_path).toEqual(['my', 'test', 'path']);
    expect(input.parsed_query).toEqual({ a: ['1', 'new\nline'] });
  });

  it('item 3: "//x/people?a=1" → ["x","people"], {"a":["1"]} (GHSA-9f29-v6mm-pw6w)', async () => {
    const input = await inputOf(httpCheckRequest({ path: '//x/people?a=1' }));
    expect(input.parsed_path).toEqual(['x', 'people']);
    expect(input.parsed_query).toEqual({ a: ['1'] });
  });

  it('§1.3: "/" → [""], a trailing slash gives a trailing ""', async () => {
    expect((await inputOf(httpCheckRequest({ path: '/' }))).parsed_path).toEqual(['']);
    expect((await inputOf(httpCheckRequest({ path: '/a/b/' }))).parsed_path).toEqual(['a', 'b', '']);
  });

  it('§1.3: "+" stays "+" in the path, is a space in the query; a key without "=" gives [""]', async () => {
    const input = await inputOf(httpCheckRequest({ path: '/a+b?q=x+y&flag' }));
    expect(input.parsed_path).toEqual(['a+b']);
    expect(input.parsed_query).toEqual({ q: ['x y'], flag: [''] });
  });

  it('§1.3 item 4 (deliberate difference D3: body "request_parse_error", no error text): a bad % escape in the path → 400', async () => {
    const response = await check(ECHO, httpCheckRequest({ path: '/a%zzb' }));
    expectFailClosed(response, 'request_parse_error', 'BadRequest');
    expect(response.deniedResponse.body.startsWith('request_parse_error')).toBe(true);
  });

  it('§1.3 item 4 (deliberate difference D3): a bad escape or a bare ";" in the query → 400', async () => {
    expectFailClosed(await check(ECHO, httpCheckRequest({ path: '/a?x=%g1' })), 'request_parse_error', 'BadRequest');
    expectFailClosed(await check(ECHO, httpCheckRequest({ path: '/a?x=1;y=2' })), 'request_parse_error', 'BadRequest');
  });
});

describe('§1 input: top-level keys, version, source_principal, attributes rendering (items 4–5, §1.1–1.2)', () => {
  it('item 4: v3 → version {"ext_authz":"v3","encoding":"protojson"}; top-level keys exactly as §1.1, plus meshwarden\'s source and destination (D6)', async () => {
    const input = await inputOf(httpCheckRequest({ path: '/' }));
    expect(input.version).toEqual({ ext_authz: 'v3', encoding: 'protojson' });
    expect(Object.keys(input).sort()).toEqual(['attributes', 'destination', 'parsed_body', 'parsed_path', 'parsed_query', 'source', 'truncated_body', 'version']);
  });

  it('item 5: source.principal "spiffe://test-domain/path" → same value in source_principal', async () => {
    const input = await inputOf(httpCheckRequest({ source: 'spiffe://test-domain/path' }));
    expect(input.source_principal).toBe('spiffe://test-domain/path');
    expect(input.attributes.source.principal).toBe('spiffe://test-domain/path');
  });

  it('item 5: source_principal absent when the principal is empty or missing', async () => {
    const empty = await inputOf(httpCheckRequest({ source: '' }));
    expect('source_principal' in empty).toBe(false);
    const missing = await inputOf(httpCheckRequest({}));
    expect('source_principal' in missing).toBe(false);
  });

  it('§1.2: attributes in lowerCamelCase, only populated fields, size a number, time {seconds,nanos}, rawBody base64, enums numbers, Struct metadata plain', async () => {
    const request = {
      attributes: {
        source: {
          address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } },
          service: 'web',
          labels: { app: 'web' },
          principal: 'spiffe://test-domain/path',
        },
        destination: { address: { socketAddress: { protocol: 'UDP', address: '10.0.2.5', portValue: 8080 } } },
        request: {
          time: { seconds: 1795858200, nanos: 123456000 },
          http: {
            id: '8306245629211637762',
            method: 'POST',
            headers: { ':path': '/p', 'x-test': 'yes' },
            path: '/p',
            host: 'example.com',
            scheme: 'https',
            size: '12345678901',
            protocol: 'HTTP/2',
            rawBody: Buffer.from([0, 1, 2, 255]).toString('base64'),
          },
        },
        contextExtensions: { route: 'people' },
        metadataContext: {
          filterMetadata: { 'envoy.filters.http.jwt_authn': { fields: { sub: { stringValue: 'alice' }, n: { numberValue: 2.5 }, ok: { boolValue: true } } } },
        },
        tlsSession: { sni: 'example.com' },
      },
    };
    const input = await inputOf(request);
    expect(input.attributes).toEqual({
      source: {
        address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } },
        service: 'web',
        labels: { app: 'web' },
        principal: 'spiffe://test-domain/path',
      },
      destination: { address: { socketAddress: { protocol: 1, address: '10.0.2.5', portValue: 8080 } } },
      request: {
        time: { seconds: 1795858200, nanos: 123456000 },
        http: {
          id: '8306245629211637762',
          method: 'POST',
          headers: { ':path': '/p', 'x-test': 'yes' },
          path: '/p',
          host: 'example.com',
          scheme: 'https',
          size: 12345678901,
          protocol: 'HTTP/2',
          rawBody: Buffer.from([0, 1, 2, 255]).toString('base64'),
        },
      },
      contextExtensions: { route: 'people' },
      metadataContext: { filterMetadata: { 'envoy.filters.http.jwt_authn': { sub: 'alice', n: 2.5, ok: true } } },
      tlsSession: { sni: 'example.com' },
    });
    expect(input.source_principal).toBe('spiffe://test-domain/path');
  });

  it('§1.2: only populated fields appear — proto3 zero values sent explicitly on the wire (empty principal/body, size 0) are omitted; a oneof member (portValue 0) keeps its presence', async () => {
    // protobufjs (this client) writes explicitly set zero values; Go's protoreflect has no presence for
    // them, so OEP's protomap never renders them. Envoy itself never sends them. A oneof member
    // (socketAddress.port_value, in oneof port_specifier) has presence in proto3, so protoreflect's Range
    // does visit it when set, even to 0.
    const request = {
      attributes: {
        source: { address: { socketAddress: { address: '10.0.1.17', portValue: 0 } }, principal: '' },
        request: { http: { method: 'POST', path: '/p', headers: { 'x-test': 'yes' }, body: '', size: '0' } },
      },
    };
    const input = await inputOf(request);
    expect('source_principal' in input).toBe(false);
    expect(input.attributes).toEqual({
      source: { address: { socketAddress: { address: '10.0.1.17', portValue: 0 } } },
      request: { http: { method: 'POST', path: '/p', headers: { 'x-test': 'yes' } } },
    });
  });
});

describe('§1 input: parsed_body and truncated_body (items 6–13, 15, §1.4)', () => {
  it('item 6: application/json {"firstname":"foo","lastname":"bar"} → that object, truncated_body false', async () => {
    const input = await inputOf(post('/', JSON_TYPE, { body: '{"firstname":"foo","lastname":"bar"}' }));
    expect(input.parsed_body).toEqual({ firstname: 'foo', lastname: 'bar' });
    expect(input.truncated_body).toBe(false);
  });

  it.each([
    ['"foo"', 'foo'],
    ['true', true],
    ['42', 42],
    ['null', null],
    ['[1,"a"]', [1, 'a']],
  ])('item 6: JSON body %s → the scalar/array itself', async (body, expected) => {
    const input = await inputOf(post('/', JSON_TYPE, { body }));
    expect('parsed_body' in input).toBe(true);
    expect(input.parsed_body).toEqual(expected);
    expect(input.truncated_body).toBe(false);
  });

  it('item 7: JSON sent only as base64 raw_body parses the same', async () => {
    const input = await inputOf(post('/', JSON_TYPE, { rawBody: base64('{"firstname":"foo","lastname":"bar"}') }));
    expect(input.parsed_body).toEqual({ firstname: 'foo', lastname: 'bar' });
    expect(input.truncated_body).toBe(false);
    expect(input.attributes.request.http.rawBody).toBe(base64('{"firstname":"foo","lastname":"bar"}'));
  });

  it('§1.4: body wins over raw_body; content types match by substring; "\\/" is accepted', async () => {
    const input = await inputOf(
      post('/', { 'content-type': 'application/json; charset=utf-8' }, { body: '{"url":"http:\\/\\/x"}', rawBody: base64('{"other":1}') }),
    );
    expect(input.parsed_body).toEqual({ url: 'http://x' });
    expect(input.truncated_body).toBe(false);
  });

  it('item 8 (deliberate difference D3: 400 body "request_parse_error", no error text): invalid JSON → status 7 + DeniedHttpResponse 400, not a gRPC error', async () => {
    const response = await check(ECHO, post('/', JSON_TYPE, { body: '{"firstname": ' }));
    expectFailClosed(response, 'request_parse_error', 'BadRequest');
    expect(response.deniedResponse.body.startsWith('request_parse_error')).toBe(true);
  });

  it('item 9: content-length 1000 with a short JSON body → null/true', async () => {
    const input = await inputOf(post('/', { ...JSON_TYPE, 'content-length': '1000' }, { body: '{"a":1}' }));
    expect(input.parsed_body).toBeNull();
    expect(input.truncated_body).toBe(true);
  });

  it('item 9: content-length 1000 with a short form body → null/true', async () => {
    const input = await inputOf(post('/', { ...FORM_TYPE, 'content-length': '1000' }, { body: 'a=1' }));
    expect(input.parsed_body).toBeNull();
    expect(input.truncated_body).toBe(true);
  });

  it('item 9: an equal content-length parses', async () => {
    const body = '{"firstname":"foo"}';
    const input = await inputOf(post('/', { ...JSON_TYPE, 'content-length': String(body.length) }, { body }));
    expect(input.parsed_body).toEqual({ firstname: 'foo' });
    expect(input.truncated_body).toBe(false);
  });

  it('§1.4 (deliberate difference D3): a non-numeric content-length is a parse error → 400', async () => {
    const response = await check(ECHO, post('/', { ...JSON_TYPE, 'content-length': 'ten' }, { body: '{}' }));
    expectFailClosed(response, 'request_parse_error', 'BadRequest');
  });

  it.each([
    ['JSON', JSON_TYPE, '{"a":1}'],
    ['form', FORM_TYPE, 'a=1'],
    ['multipart', MULTIPART_TYPE, MULTIPART_BODY],
  ])('item 10: x-envoy-auth-partial-body: true → null/true (%s)', async (_name, type, body) => {
    const input = await inputOf(post('/', { ...type, 'x-envoy-auth-partial-body': 'true' }, { body }));
    expect(input.parsed_body).toBeNull();
    expect(input.truncated_body).toBe(true);
  });

  it.each(['false', 'True'])('item 10: x-envoy-auth-partial-body: %s (not exactly "true") → normal parse', async (value) => {
    const input = await inputOf(post('/', { ...JSON_TYPE, 'x-envoy-auth-partial-body': value }, { body: '{"a":1}' }));
    expect(input.parsed_body).toEqual({ a: 1 });
    expect(input.truncated_body).toBe(false);
  });

  it.each([
    ['no content type', {}, '{"a":1}'],
    ['text/html', { 'content-type': 'text/html' }, '<p>{"a":1}</p>'],
    ['an empty JSON body', JSON_TYPE, undefined],
    ['a content type under a non-lowercase key (lookups use lowercase keys)', { 'Content-Type': 'application/json' }, '{"a":1}'],
  ])('item 11: %s → parsed_body null, truncated_body false', async (_name, headers, body) => {
    const input = await inputOf(post('/', headers, body === undefined ? {} : { body }));
    expect('parsed_body' in input).toBe(true);
    expect(input.parsed_body).toBeNull();
    expect(input.truncated_body).toBe(false);
  });

  it('item 12: form "firstname=foo&lastname=bar&lastname=foobar" → arrays of strings', async () => {
    const input = await inputOf(post('/', FORM_TYPE, { body: 'firstname=foo&lastname=bar&lastname=foobar' }));
    expect(input.parsed_body).toEqual({ firstname: ['foo'], lastname: ['bar', 'foobar'] });
    expect(input.truncated_body).toBe(false);
  });

  it('§2.5 (deliberate difference D3): a bad form body (bad escape, bare ";") is a parse error → 400', async () => {
    expectFailClosed(await check(ECHO, post('/', FORM_TYPE, { body: 'a=%zz' })), 'request_parse_error', 'BadRequest');
    expectFailClosed(await check(ECHO, post('/', FORM_TYPE, { body: 'a=1;b=2' })), 'request_parse_error', 'BadRequest');
  });

  it('§1.4: a form sent only as raw_body parses the same', async () => {
    const input = await inputOf(post('/', FORM_TYPE, { rawBody: base64('firstname=foo&lastname=bar&lastname=foobar') }));
    expect(input.parsed_body).toEqual({ firstname: ['foo'], lastname: ['bar', 'foobar'] });
  });

  it('item 13: multipart (boundary foo) text part foo=bar, JSON part bar={"name":"bar"} → {"foo":["bar"],"bar":[{"name":"bar"}]}', async () => {
    const input = await inputOf(post('/', MULTIPART_TYPE, { body: MULTIPART_BODY }));
    expect(input.parsed_body).toEqual({ foo: ['bar'], bar: [{ name: 'bar' }] });
    expect(input.truncated_body).toBe(false);
  });

  it('§1.4: multipart skips unnamed parts; without a boundary parameter → null, no error', async () => {
    const withUnnamed =
      '--foo\r\nContent-Disposition: form-data\r\n\r\nanonymous\r\n' +
      '--foo\r\nContent-Disposition: form-data; name="foo"\r\n\r\nbar\r\n--foo--\r\n';
    expect((await inputOf(post('/', MULTIPART_TYPE, { body: withUnnamed }))).parsed_body).toEqual({ foo: ['bar'] });
    const noBoundary = await inputOf(post('/', { 'content-type': 'multipart/form-data' }, { body: MULTIPART_BODY }));
    expect(noBoundary.parsed_body).toBeNull();
    expect(noBoundary.truncated_body).toBe(false);
  });

  // opa-envoy-plugin leaves such a body unparsed (it ignores header_map); meshwarden reads header_map as headers
  // (issue 11, a deliberate difference in the README table; the real binary's answer is in test/conformance/oep/).
  it('§1.2 (derived): only header_map (encode_raw_headers) → body parsed, header_map read as headers (deliberate difference)', async () => {
    const request = {
      attributes: {
        request: {
          http: {
            method: 'POST',
            path: '/',
            headerMap: { headers: [{ key: 'content-type', rawValue: base64('application/json') }] },
            body: '{"a":1}',
          },
        },
      },
    };
    const input = await inputOf(request);
    expect(input.parsed_body).toEqual({ a: 1 });
    expect(input.truncated_body).toBe(false);
    // The attributes stay as opa-envoy-plugin renders them: no headers key is made up.
    expect(input.attributes.request.http.headers).toBeUndefined();
  });

  it('item 14 (without --proto-descriptor; with one: test/*/grpc-body.test.ts): an application/grpc body → null/false', async () => {
    const input = await inputOf(
      post('/com.book.BookService/GetBooksViaAuthor', { 'content-type': 'application/grpc' }, { rawBody: 'AAAAAAYKBEpvaG4=' }),
    );
    expect(input.parsed_body).toBeNull();
    expect(input.truncated_body).toBe(false);
  });

  it('item 15: --skip-body-parse + invalid JSON → allowed; parsed_body and truncated_body absent (not null)', async () => {
    const request = post('/', JSON_TYPE, { body: '{"firstname": ' });
    const response = await check(ECHO, request, ['--skip-body-parse']);
    expect(response.status?.code ?? 0).toBe(0);
    expectDecisionId(response);
    const input = structToJson(response.dynamicMetadata).input as Record<string, unknown>;
    expect('parsed_body' in input).toBe(false);
    expect('truncated_body' in input).toBe(false);
    expect(Object.keys(input).sort()).toEqual(['attributes', 'destination', 'parsed_path', 'parsed_query', 'source', 'version']);
  });

  it('§1.4 + OPA: JSON numbers keep arbitrary precision (json.Number) — same decision as OPA on the JSON text meshwarden built', async () => {
    const p = policy(
      'bignum',
      'allow := {"allowed": input.parsed_body.n == 9007199254740993, "dynamic_metadata": {"neighbour": input.parsed_body.n == 9007199254740992, "big": input.parsed_body.m == 123456789012345678901234567890}}',
    );
    const request = post('/', JSON_TYPE, { body: '{"n": 9007199254740993, "m": 123456789012345678901234567890}' });
    const response = await check(p, request);
    // The input as JSON text (the echo's Struct would round numbers to doubles).
    const inputJson = buildInput(request.attributes as Attributes, { skipBodyParse: false }).json;
    expect(inputJson).toContain('9007199254740993');
    const answer = await opaQuery(p, inputJson);
    expect(answer.body.result).toEqual({ allowed: true, dynamic_metadata: { neighbour: false, big: true } });
    expect(viewOfResponse(response)).toEqual(expectedViewOfOpaResult(answer.body.result));
  });
});

// ---------------------------------------------------------------------------------------------------------
// §2 Decisions: meshwarden's wasm vs OPA's Go evaluator on the same input, mapped by the OEP contract

describe('§2 decisions (items 16–21, §2.2–2.4), differential with OPA', () => {
  it('item 16: true → status 0, no http_response, dynamic_metadata.decision_id of 36 chars', async () => {
    const { response, result } = await differential(policy('bool_true', 'allow := true'), httpCheckRequest({}));
    expect(result).toBe(true);
    expect(response.status?.code ?? 0).toBe(0);
    expect(response.okResponse).toBeUndefined();
    expect(response.deniedResponse).toBeUndefined();
    expectDecisionId(response);
    expect(Object.keys(structToJson(response.dynamicMetadata))).toEqual(['decision_id']);
  });

  it('item 17 (deliberate difference D2: explicit DeniedHttpResponse 403, OEP sets none): false → status 7', async () => {
    const { response, result } = await differential(policy('bool_false', 'default allow := false'), httpCheckRequest({}));
    expect(result).toBe(false);
    expect(response.status.code).toBe(7);
    expect(response.okResponse).toBeUndefined();
    expect(response.deniedResponse.status.code).toBe('Forbidden');
    expect(response.deniedResponse.headers).toBeUndefined();
    expect(response.deniedResponse.body).toBeUndefined();
    expectDecisionId(response);
  });

  it('item 18 (D5 append flags): {allowed:true, headers:{x,y}, dynamic_metadata:{test,bar}} → OK, 2 OkHttpResponse headers, metadata test, bar, decision_id', async () => {
    const p = policy('item18', 'allow := {"allowed": true, "headers": {"x": "hello", "y": "world"}, "dynamic_metadata": {"test": "foo", "bar": "baz"}}');
    const { response } = await differential(p, httpCheckRequest({}));
    expect(response.status?.code ?? 0).toBe(0);
    expect(response.deniedResponse).toBeUndefined();
    expect(byKey(response.okResponse.headers)).toEqual(headerOptions([['x', 'hello', false], ['y', 'world', false]]));
    const metadata = structToJson(response.dynamicMetadata);
    expect(Object.keys(metadata).sort()).toEqual(['bar', 'decision_id', 'test']);
    expect(metadata).toMatchObject({ test: 'foo', bar: 'baz' });
    expectDecisionId(response);
  });

  it('item 19 (D5 append flags): {allowed:false, headers:{foo,baz}, body, http_status:301} → status 7, DeniedHttpResponse 301 with those headers and body', async () => {
    const p = policy('item19', 'allow := {"allowed": false, "headers": {"foo": "bar", "baz": "taz"}, "body": "Unauthorized Request", "http_status": 301}');
    const { response } = await differential(p, httpCheckRequest({}));
    expect(response.status.code).toBe(7);
    expect(response.okResponse).toBeUndefined();
    expect(response.deniedResponse.status.code).toBe('MovedPermanently');
    expect(byKey(response.deniedResponse.headers)).toEqual(headerOptions([['baz', 'taz', false], ['foo', 'bar', false]]));
    expect(response.deniedResponse.body).toBe('Unauthorized Request');
    expectDecisionId(response);
  });

  it('item 20 (deliberate difference D5: the 2nd value appends): response_headers_to_add {x:["hello","world"]} → two x entries; OkHttpResponse.headers empty', async () => {
    const p = policy('item20', 'allow := {"allowed": true, "response_headers_to_add": {"x": ["hello", "world"]}}');
    const { response } = await differential(p, httpCheckRequest({}));
    expect(response.okResponse.responseHeadersToAdd).toEqual(headerOptions([['x', 'hello', false], ['x', 'world', true]]));
    expect(response.okResponse.headers ?? []).toEqual([]);
  });

  it('item 21: request_headers_to_remove / query_parameters_to_remove ["foo","bar"] in order; query_parameters_to_set {foo:"value1",bar:["value2","value3"]} → 3 QueryParameters', async () => {
    const p = policy(
      'item21',
      'allow := {"allowed": true, "request_headers_to_remove": ["foo", "bar"], "query_parameters_to_remove": ["foo", "bar"], "query_parameters_to_set": {"foo": "value1", "bar": ["value2", "value3"]}}',
    );
    const { response } = await differential(p, httpCheckRequest({}));
    expect(response.okResponse.headersToRemove).toEqual(['foo', 'bar']);
    expect(response.okResponse.queryParametersToRemove).toEqual(['foo', 'bar']);
    const set = response.okResponse.queryParametersToSet as { key: string; value: string }[];
    expect(set).toHaveLength(3);
    expect(set.filter((q) => q.key === 'bar')).toEqual([{ key: 'bar', value: 'value2' }, { key: 'bar', value: 'value3' }]);
    expect(set.filter((q) => q.key === 'foo')).toEqual([{ key: 'foo', value: 'value1' }]);
  });

  it('§2.3: headers as an array of objects are flattened; a Rego set is accepted where an array is', async () => {
    const p = policy(
      'header_array',
      'allow := {"allowed": true, "headers": [{"x-a": "1"}, {"x-b": ["2", "3"]}], "request_headers_to_remove": {"x-gone"}}',
    );
    const { response } = await differential(p, httpCheckRequest({}));
    expect(response.okResponse.headers).toEqual(headerOptions([['x-a', '1', false], ['x-b', '2', false], ['x-b', '3', true]]));
    expect(response.okResponse.headersToRemove).toEqual(['x-gone']);
  });

  it('§2.3: an object decision always yields an HTTP response, possibly empty ({allowed:true} → empty OkHttpResponse)', async () => {
    const { response } = await differential(policy('empty_ok', 'allow := {"allowed": true}'), httpCheckRequest({}));
    expect(response.status?.code ?? 0).toBe(0);
    expect(response.okResponse).toBeDefined();
    expect(response.okResponse.headers ?? []).toEqual([]);
    expect(response.deniedResponse).toBeUndefined();
  });

  it('§2.3: {allowed:false} → DeniedHttpResponse with default status 403', async () => {
    const { response } = await differential(policy('empty_denied', 'allow := {"allowed": false}'), httpCheckRequest({}));
    expect(response.status.code).toBe(7);
    expect(response.deniedResponse.status.code).toBe('Forbidden');
  });

  it('§2.3: unknown keys are ignored; http_status 400 passes', async () => {
    const p = policy('unknown_keys', 'allow := {"allowed": false, "http_status": 400, "status_code": 999, "whatever": {"x": 1}}');
    const { response } = await differential(p, httpCheckRequest({}));
    expect(response.deniedResponse.status.code).toBe('BadRequest');
  });

  it('§2.4: decision_id overwrites a decision_id the policy put in dynamic_metadata', async () => {
    const p = policy('own_decision_id', 'allow := {"allowed": true, "dynamic_metadata": {"decision_id": "mine", "k": [1, "two", null, {"n": true}]}}');
    const { response } = await differential(p, httpCheckRequest({}));
    expectDecisionId(response);
    expect(decisionIdOf(response)).not.toBe('mine');
    expect(structToJson(response.dynamicMetadata).k).toEqual([1, 'two', null, { n: true }]);
  });

  it('§2.3 (deliberate difference D5): multi-valued deny headers (set-cookie) → one option per value, 2nd appends', async () => {
    const p = policy('multi_deny', 'allow := {"allowed": false, "http_status": 401, "headers": {"set-cookie": ["a=1", "b=2"]}}');
    const { response } = await differential(p, httpCheckRequest({}));
    expect(response.deniedResponse.status.code).toBe('Unauthorized');
    expect(response.deniedResponse.headers).toEqual(headerOptions([['set-cookie', 'a=1', false], ['set-cookie', 'b=2', true]]));
  });

  it('§2.1: the decision path ignores leading and trailing "/" (--decision /conf/slashes/allow/)', async () => {
    const p = policy('slashes', 'allow := {"allowed": true, "headers": {"x-path": "ok"}}');
    const server = await startTestServer(['--bundle', compileRego(p.rego, p.entrypoint), '--decision', '/conf/slashes/allow/']);
    try {
      const response = await server.client.check(httpCheckRequest({}));
      const answer = await opaQuery(p, JSON.stringify(await inputOf(httpCheckRequest({}))));
      expect(viewOfResponse(response)).toEqual(expectedViewOfOpaResult(answer.body.result));
      expect(response.okResponse.headers).toEqual(headerOptions([['x-path', 'ok', false]]));
    } finally {
      await server.stop();
    }
  });
});

describe('§2 decisions that depend on the input (OEP internal_test RBAC, path/query/body, source_principal), differential with OPA', () => {
  // The RBAC example of OEP's internal tests: Basic auth; alice may GET /people, bob may do anything.
  const RBAC = policy(
    'rbac',
    [
      'default allow := false',
      'allow if {',
      '  input.attributes.request.http.method == "GET"',
      '  input.parsed_path == ["people"]',
      '  user_name == "alice"',
      '}',
      'allow if user_name == "bob"',
      'user_name := name if {',
      '  [_, encoded] := split(input.attributes.request.http.headers.authorization, " ")',
      '  [name, _] := split(base64.decode(encoded), ":")',
      '}',
    ].join('\n'),
  );
  const basic = (user: string): Record<string, string> => ({ authorization: `Basic ${base64(`${user}:password`)}` });

  it.each([
    ['alice GET /people', 'GET', '/people', basic('alice'), true],
    ['alice GET //people?x=1', 'GET', '//people?x=1', basic('alice'), true],
    ['alice POST /people', 'POST', '/people', basic('alice'), false],
    ['alice GET /people/1', 'GET', '/people/1', basic('alice'), false],
    ['bob DELETE /admin', 'DELETE', '/admin', basic('bob'), true],
    ['no authorization header', 'GET', '/people', {}, false],
  ])('RBAC: %s', async (_name, method, path, headers, allowed) => {
    const { response, result } = await differential(RBAC, httpCheckRequest({ method, path, headers }));
    expect(result).toBe(allowed);
    expect((response.status?.code ?? 0) === 0).toBe(allowed);
  });

  const ROUTED = policy(
    'routed',
    [
      'allow := {',
      '  "allowed": input.parsed_query.role == ["admin"],',
      '  "headers": {"x-first-segment": input.parsed_path[0], "x-names": [p | some p in input.parsed_body.names]},',
      '  "http_status": 401,',
      '  "body": concat("/", input.parsed_path),',
      '  "dynamic_metadata": {"truncated": input.truncated_body, "query": input.parsed_query},',
      '}',
    ].join('\n'),
  );

  it('decision from parsed_path, parsed_query and parsed_body: allow (query role=admin)', async () => {
    const request = post('/api/v1/users?role=admin&x=a+b', JSON_TYPE, { body: '{"names":["ann","bo"]}' });
    const { response } = await differential(ROUTED, request);
    expect(response.status?.code ?? 0).toBe(0);
    expect(byKey(response.okResponse.headers)).toEqual(
      headerOptions([['x-first-segment', 'api', false], ['x-names', 'ann', false], ['x-names', 'bo', true]]),
    );
    expect(structToJson(response.dynamicMetadata)).toMatchObject({ truncated: false, query: { role: ['admin'], x: ['a b'] } });
  });

  it('decision from parsed_path, parsed_query and parsed_body: deny with 401 and a computed body', async () => {
    const request = post('/%2Fapi%2Fv1/users?role=guest', FORM_TYPE, { body: 'names=ann' });
    const { response } = await differential(ROUTED, request);
    expect(response.status.code).toBe(7);
    expect(response.deniedResponse.status.code).toBe('Unauthorized');
    expect(response.deniedResponse.body).toBe('api/v1/users');
    expect(byKey(response.deniedResponse.headers)).toEqual(headerOptions([['x-first-segment', 'api', false], ['x-names', 'ann', false]]));
  });

  it('decision from source_principal (PR #732)', async () => {
    const p = policy('principal', 'default allow := false\nallow if input.source_principal == "spiffe://test-domain/path"');
    expect((await differential(p, httpCheckRequest({ source: 'spiffe://test-domain/path' }))).result).toBe(true);
    expect((await differential(p, httpCheckRequest({ source: 'spiffe://test-domain/other' }))).result).toBe(false);
    expect((await differential(p, httpCheckRequest({}))).result).toBe(false);
  });

  it('decision from attributes rendering: time.seconds and filter metadata (Struct as plain JSON)', async () => {
    const p = policy(
      'attributes',
      'allow := {"allowed": input.attributes.request.time.seconds > 1700000000, "dynamic_metadata": {"sub": input.attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"].sub, "nanos": input.attributes.request.time.nanos}}',
    );
    const request = httpCheckRequest({});
    (request.attributes as any).metadataContext = { filterMetadata: { 'envoy.filters.http.jwt_authn': { fields: { sub: { stringValue: 'alice' } } } } };
    const { response } = await differential(p, request);
    expect(structToJson(response.dynamicMetadata)).toMatchObject({ sub: 'alice', nanos: 123456000 });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Errors (items 22–24, §2.5) and dry-run (item 25, §2.6)

describe('errors (items 22–24, §2.5): OPA shows what OEP would reject; meshwarden fails closed', () => {
  it('item 22 (deliberate difference D1: deny, not gRPC error): request_headers_to_remove "foo" → invalid_decision', async () => {
    const p = policy('item22', 'allow := {"allowed": true, "request_headers_to_remove": "foo"}');
    const answer = await opaQuery(p, JSON.stringify(await inputOf(httpCheckRequest({}))));
    expect(answer.body.result).toEqual({ allowed: true, request_headers_to_remove: 'foo' });
    expect(expectedViewOfOpaResult({ ...answer.body.result, request_headers_to_remove: ['x'] })).toBeDefined();
    expectFailClosed(await check(p, httpCheckRequest({})), 'invalid_decision', 'Forbidden');
  });

  it('§2.5 (deliberate difference D1: deny, not gRPC error): missing "allowed" and a non-boolean "allowed" → invalid_decision', async () => {
    for (const [name, rule] of [
      ['no_allowed', 'allow := {"headers": {"x": "y"}}'],
      ['string_allowed', 'allow := {"allowed": "true"}'],
    ]) {
      const p = policy(name!, rule!);
      const answer = await opaQuery(p, '{}');
      expect(expectedViewOfOpaResult(answer.body.result)).toBeUndefined();
      expectFailClosed(await check(p, httpCheckRequest({})), 'invalid_decision', 'Forbidden');
    }
  });

  it('§2.3 (deliberate difference D1: deny, not gRPC error): headers are validated on a deny too (value 1)', async () => {
    const p = policy('bad_deny_headers', 'allow := {"allowed": false, "headers": {"x": 1}}');
    expect((await opaQuery(p, '{}')).body.result).toEqual({ allowed: false, headers: { x: 1 } });
    expectFailClosed(await check(p, httpCheckRequest({})), 'invalid_decision', 'Forbidden');
  });

  it('§2.3 (deliberate difference D1: deny, not gRPC error): dynamic_metadata that is not an object → invalid_decision', async () => {
    const p = policy('bad_metadata', 'allow := {"allowed": true, "dynamic_metadata": ["x"]}');
    expect((await opaQuery(p, '{}')).body.result).toEqual({ allowed: true, dynamic_metadata: ['x'] });
    expectFailClosed(await check(p, httpCheckRequest({})), 'invalid_decision', 'Forbidden');
  });

  it('§2.3 (deliberate difference D1: deny, not gRPC error): http_status 9999 on a deny → invalid_decision', async () => {
    const p = policy('bad_status', 'allow := {"allowed": false, "http_status": 9999}');
    expect((await opaQuery(p, '{}')).body.result).toEqual({ allowed: false, http_status: 9999 });
    expectFailClosed(await check(p, httpCheckRequest({})), 'invalid_decision', 'Forbidden');
  });

  it('§2.3 (deliberate difference D4: keys validated on both branches; OEP ignores them on an allow): bad http_status/body on an allow → invalid_decision', async () => {
    const p = policy('bad_other_branch', 'allow := {"allowed": true, "http_status": 9999, "body": 42}');
    expect((await opaQuery(p, '{}')).body.result).toEqual({ allowed: true, http_status: 9999, body: 42 });
    expectFailClosed(await check(p, httpCheckRequest({})), 'invalid_decision', 'Forbidden');
  });

  it('item 23 (deliberate difference D1: deny, not gRPC error "illegal value for policy evaluation result"): decision 1 → invalid_decision', async () => {
    const p = policy('item23', 'allow := 1');
    const answer = await opaQuery(p, '{}');
    expect(answer.body.result).toBe(1);
    expect(expectedViewOfOpaResult(answer.body.result)).toBeUndefined();
    expectFailClosed(await check(p, httpCheckRequest({})), 'invalid_decision', 'Forbidden');
  });

  it('item 24 (deliberate difference D1: deny, not gRPC error): conflicting complete rules → OPA eval_conflict_error; meshwarden evaluation_error', async () => {
    const p = policy('item24_conflict', 'allow := true if input.attributes.request.http\nallow := false if input.attributes.request.http');
    const answer = await opaQuery(p, JSON.stringify(await inputOf(httpCheckRequest({}))));
    expect(answer.status).toBe(500);
    expect(answer.body.errors?.[0]?.code).toBe('eval_conflict_error');
    const response = await check(p, httpCheckRequest({}));
    expectFailClosed(response, 'evaluation_error', 'Forbidden');
    expect(JSON.stringify(response)).not.toMatch(/conflict/i);
  });

  it('item 24 (deliberate difference D1: deny, not gRPC error "undefined decision"): undefined at the path → OPA no result; meshwarden undefined_decision', async () => {
    const p = policy('item24_undefined', 'allow if input.attributes.request.http.method == "NEVER"');
    const answer = await opaQuery(p, JSON.stringify(await inputOf(httpCheckRequest({}))));
    expect(answer.status).toBe(200);
    expect('result' in answer.body).toBe(false);
    expectFailClosed(await check(p, httpCheckRequest({})), 'undefined_decision', 'Forbidden');
  });
});

describe('dry-run (item 25, §2.6) as --shadow', () => {
  it('item 25: dry-run + denying object → status OK, empty OkHttpResponse, decision_id still added', async () => {
    const p = policy('item25_deny', 'allow := {"allowed": false, "http_status": 401, "body": "no", "headers": {"x": "y"}}');
    const answer = await opaQuery(p, JSON.stringify(await inputOf(httpCheckRequest({}))));
    expect(answer.body.result.allowed).toBe(false);
    const response = await check(p, httpCheckRequest({}), ['--shadow']);
    expect(response.status?.code ?? 0).toBe(0);
    expect(response.deniedResponse).toBeUndefined();
    expect(response.okResponse).toEqual({});
    expectDecisionId(response);
  });

  it('item 25: dry-run + allow keeps headers and metadata (same as OPA says)', async () => {
    const p = policy('item25_allow', 'allow := {"allowed": true, "headers": {"x": "hello"}, "dynamic_metadata": {"test": "foo"}}');
    const { response } = await differential(p, httpCheckRequest({}), ['--shadow']);
    expect(response.okResponse.headers).toEqual(headerOptions([['x', 'hello', false]]));
    expect(structToJson(response.dynamicMetadata)).toMatchObject({ test: 'foo' });
    expectDecisionId(response);
  });

  it('§2.6 (deliberate difference D3 for the body): dry-run does not mask parse errors (400)', async () => {
    const p = policy('dry_parse', 'allow := true');
    expectFailClosed(await check(p, post('/', JSON_TYPE, { body: 'nope' }), ['--shadow']), 'request_parse_error', 'BadRequest');
  });
});
