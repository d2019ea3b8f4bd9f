// src/check/decision.ts parseDecision: opa-envoy-plugin's decision contract (reference §2.1-2.3, §4.1 items 16-23), strictly typed.
import { describe, expect, it } from 'vitest';
import { parseDecision, type Decision, type HeaderMutation } from '../../../src/check/decision.js';
import { loadEnvoyApi } from '../../../src/envoy/protos.js';
import { failureOf } from '../helpers.js';

const statuses = loadEnvoyApi().envoyStatusCodes;
const decide = (result: unknown): Decision => parseDecision([{ result }], statuses);
const header = (key: string, value: string, append = false): HeaderMutation => ({ key, value, append });

const EMPTY = {
  headers: [],
  responseHeadersToAdd: [],
  requestHeadersToRemove: [],
  queryParametersToSet: [],
  queryParametersToRemove: [],
  body: undefined,
  httpStatus: undefined,
  dynamicMetadata: undefined,
};

describe('parseDecision: boolean decisions (§2.2)', () => {
  it.each([true, false])('%s', (allowed) => {
    expect(decide(allowed)).toEqual({ allowed, fromObject: false, ...EMPTY });
  });
});

describe('parseDecision: result sets', () => {
  it.each<[string, unknown, string]>([
    ['an empty result set (undefined decision)', [], 'undefined_decision'],
    ['a result without a value', [{}], 'undefined_decision'],
    ['a result that is not an object', [true], 'undefined_decision'],
    ['no result set at all', undefined, 'undefined_decision'],
    ['null', null, 'undefined_decision'],
    ['a result set that is not an array', { result: true }, 'undefined_decision'],
    ['two results', [{ result: true }, { result: true }], 'multiple_results'],
    ['three mixed results', [{ result: false }, { result: true }, { result: { allowed: true } }], 'multiple_results'],
  ])('%s → %s', (_name, resultSet, reason) => {
    expect(failureOf(() => parseDecision(resultSet, statuses))).toBe(reason);
  });

  it.each<[string, unknown]>([
    ['number 1 (§4.1 item 23)', 1],
    ['number 0', 0],
    ['a string', 'true'],
    ['null', null],
    ['an array', [true]],
    ['an empty array (an empty Rego set)', []],
  ])('a decision that is %s is an invalid_decision', (_name, result) => {
    expect(failureOf(() => decide(result))).toBe('invalid_decision');
  });
});

describe('parseDecision: object decisions (§2.3)', () => {
  it('§4.1 item 18: allow with headers and dynamic_metadata', () => {
    expect(decide({ allowed: true, headers: { x: 'hello', y: 'world' }, dynamic_metadata: { test: 'foo', bar: 'baz' } })).toEqual({
      ...EMPTY,
      allowed: true,
      fromObject: true,
      headers: [header('x', 'hello'), header('y', 'world')],
      dynamicMetadata: { test: 'foo', bar: 'baz' },
    });
  });

  it('§4.1 item 19: deny with headers, body and http_status 301', () => {
    expect(
      decide({ allowed: false, headers: { foo: 'bar', baz: 'taz' }, body: 'Unauthorized Request', http_status: 301 }),
    ).toEqual({
      ...EMPTY,
      allowed: false,
      fromObject: true,
      headers: [header('foo', 'bar'), header('baz', 'taz')],
      body: 'Unauthorized Request',
      httpStatus: 301,
    });
  });

  it('§4.1 item 20: response_headers_to_add with two values for one key', () => {
    const decision = decide({ allowed: true, response_headers_to_add: { x: ['hello', 'world'] } });
    expect(decision.responseHeadersToAdd).toEqual([header('x', 'hello', false), header('x', 'world', true)]);
    expect(decision.headers).toEqual([]);
  });

  it('§4.1 item 21: removals in order, query_parameters_to_set one per value', () => {
    const decision = decide({
      allowed: true,
      request_headers_to_remove: ['foo', 'bar'],
      query_parameters_to_remove: ['foo', 'bar'],
      query_parameters_to_set: { foo: 'value1', bar: ['value2', 'value3'] },
    });
    expect(decision.requestHeadersToRemove).toEqual(['foo', 'bar']);
    expect(decision.queryParametersToRemove).toEqual(['foo', 'bar']);
    expect(decision.queryParametersToSet).toEqual([
      { key: 'foo', value: 'value1' },
      { key: 'bar', value: 'value2' },
      { key: 'bar', value: 'value3' },
    ]);
  });

  it('an object with only allowed yields empty lists (an empty http response)', () => {
    expect(decide({ allowed: true })).toEqual({ ...EMPTY, allowed: true, fromObject: true });
    expect(decide({ allowed: false })).toEqual({ ...EMPTY, allowed: false, fromObject: true });
  });

  it('ignores unknown keys', () => {
    expect(decide({ allowed: true, reason: 'ok', status_code: 'not checked' })).toEqual({ ...EMPTY, allowed: true, fromObject: true });
  });

  it.each<[string, unknown, HeaderMutation[]]>([
    ['an object', { a: '1', b: '2' }, [header('a', '1'), header('b', '2')]],
    ['an object with an array value', { 'set-cookie': ['a=1', 'b=2', 'c=3'] }, [header('set-cookie', 'a=1'), header('set-cookie', 'b=2', true), header('set-cookie', 'c=3', true)]],
    ['an array of objects', [{ a: '1' }, { b: '2' }], [header('a', '1'), header('b', '2')]],
    ['an array of objects repeating a key', [{ x: 'a' }, { x: 'b', y: 'c' }], [header('x', 'a'), header('x', 'b', true), header('y', 'c')]],
    ['keys differing only in case', [{ 'X-Tag': '1' }, { 'x-tag': '2' }], [header('X-Tag', '1'), header('x-tag', '2', true)]],
    ['an empty array value', { a: [] }, []],
    ['an empty array', [], []],
    ['an empty object', {}, []],
    ['an empty header value', { a: '' }, [header('a', '')]],
  ])('headers as %s', (_name, headers, expected) => {
    expect(decide({ allowed: true, headers }).headers).toEqual(expected);
    expect(decide({ allowed: false, headers }).headers).toEqual(expected);
    expect(decide({ allowed: true, response_headers_to_add: headers }).responseHeadersToAdd).toEqual(expected);
  });

  it('keeps "__proto__" as an ordinary key in headers and dynamic_metadata', () => {
    const decision = decide(JSON.parse('{"allowed":true,"headers":{"__proto__":"x"},"dynamic_metadata":{"__proto__":{"a":1}}}'));
    expect(decision.headers).toEqual([header('__proto__', 'x')]);
    expect(Object.keys(decision.dynamicMetadata!)).toEqual(['__proto__']);
  });

  it.each([100, 200, 301, 308, 400, 401, 403, 421, 429, 431, 500, 503, 511])('accepts http_status %i on a deny', (status) => {
    expect(decide({ allowed: false, http_status: status }).httpStatus).toBe(status);
  });

  it.each<[string, unknown]>([
    ['1', 1],
    ['9999', 9999],
    ['true', true],
    ['0', 0],
    ['-403', -403],
    ['403.5', 403.5],
    ['"403"', '403'],
    ['null', null],
    ['99', 99],
    ['600', 600],
    // in Go's http.StatusText but not in Envoy's StatusCode enum
    ['418', 418],
    ['425', 425],
    ['451', 451],
    // in Node's STATUS_CODES only
    ['509', 509],
  ])('rejects http_status %s (§2.3: known to Go and to Envoy)', (_name, status) => {
    expect(failureOf(() => decide({ allowed: false, http_status: status }))).toBe('invalid_decision');
  });

  it.each<[string, Record<string, unknown>]>([
    ['no allowed key', { headers: { a: 'b' } }],
    ['allowed as a string', { allowed: 'true' }],
    ['allowed as a number', { allowed: 1 }],
    ['allowed null', { allowed: null }],
    ['request_headers_to_remove: "foo" (§4.1 item 22)', { allowed: true, request_headers_to_remove: 'foo' }],
    ['request_headers_to_remove with a number', { allowed: true, request_headers_to_remove: ['a', 1] }],
    ['query_parameters_to_remove as a string', { allowed: true, query_parameters_to_remove: 'foo' }],
    ['query_parameters_to_remove as an object', { allowed: true, query_parameters_to_remove: { foo: true } }],
    ['query_parameters_to_set as an array', { allowed: true, query_parameters_to_set: ['foo'] }],
    ['query_parameters_to_set with a number value', { allowed: true, query_parameters_to_set: { foo: 1 } }],
    ['query_parameters_to_set with a mixed array', { allowed: true, query_parameters_to_set: { foo: ['a', 2] } }],
    ['query_parameters_to_set with an empty name', { allowed: true, query_parameters_to_set: { '': 'x' } }],
    ['headers as a string', { allowed: true, headers: 'x' }],
    ['headers with a number value', { allowed: true, headers: { x: 1 } }],
    ['headers with a boolean value', { allowed: false, headers: { x: true } }],
    ['headers with a number in an array', { allowed: true, headers: { x: ['a', 1] } }],
    ['headers with a nested object', { allowed: true, headers: { x: { y: 'z' } } }],
    ['headers as an array holding a string', { allowed: true, headers: ['x'] }],
    ['headers as an array holding null', { allowed: true, headers: [null] }],
    ['headers as an array holding an array', { allowed: true, headers: [[{ a: 'b' }]] }],
    ['headers null', { allowed: true, headers: null }],
    ['response_headers_to_add as a number', { allowed: true, response_headers_to_add: 5 }],
    ['response_headers_to_add with a null value', { allowed: true, response_headers_to_add: { x: null } }],
    ['body as a number', { allowed: false, body: 5 }],
    ['body as an object', { allowed: false, body: { msg: 'no' } }],
    ['dynamic_metadata as a string', { allowed: true, dynamic_metadata: 'x' }],
    ['dynamic_metadata as an array', { allowed: true, dynamic_metadata: [] }],
    ['dynamic_metadata null', { allowed: false, dynamic_metadata: null }],
  ])('%s is an invalid_decision', (_name, result) => {
    expect(failureOf(() => decide(result))).toBe('invalid_decision');
  });

  it.each<[string, Record<string, unknown>]>([
    // upstream headers on an allow (Envoy refuses or answers 500: E-16, T-29)
    ['headers :path on allow', { allowed: true, headers: { ':path': '/admin' } }],
    ['headers :authority on allow', { allowed: true, headers: { ':authority': 'evil' } }],
    ['headers host on allow', { allowed: true, headers: { host: 'evil' } }],
    ['headers Host on allow', { allowed: true, headers: { Host: 'evil' } }],
    ['headers x-envoy-original-path on allow', { allowed: true, headers: { 'x-envoy-original-path': '/' } }],
    ['headers X-Envoy-Foo on allow (array form)', { allowed: true, headers: [{ a: '1' }, { 'X-Envoy-Foo': '1' }] }],
    ['request_headers_to_remove :authority', { allowed: true, request_headers_to_remove: [':authority'] }],
    ['request_headers_to_remove host', { allowed: true, request_headers_to_remove: ['a', 'host'] }],
    ['request_headers_to_remove HOST', { allowed: true, request_headers_to_remove: ['HOST'] }],
    ['request_headers_to_remove x-envoy-auth-partial-body', { allowed: true, request_headers_to_remove: ['x-envoy-auth-partial-body'] }],
    // client headers: no pseudo-headers
    ['headers :status on deny', { allowed: false, headers: { ':status': '200' } }],
    ['response_headers_to_add :status on allow', { allowed: true, response_headers_to_add: { ':status': '200' } }],
    // syntax: names must be tokens, values visible ASCII, space and tab (one rule for gRPC and HTTP mode)
    ['a header name with a space', { allowed: true, headers: { 'x y': '1' } }],
    ['a header name with a space on deny', { allowed: false, headers: { 'x y': '1' } }],
    ['a response header name with a space', { allowed: true, response_headers_to_add: { 'bad name': '1' } }],
    ['an empty header name', { allowed: true, headers: { '': '1' } }],
    ['a header name with a colon inside', { allowed: true, response_headers_to_add: { 'a:b': '1' } }],
    ['a non-ASCII header name', { allowed: true, headers: { 'x-é': '1' } }],
    ['a header value with CRLF', { allowed: true, headers: { 'x-a': 'ok\r\nx-injected: 1' } }],
    ['a header value with LF', { allowed: false, headers: { 'x-a': 'a\nb' } }],
    ['a header value with CR', { allowed: true, response_headers_to_add: { 'x-a': 'a\rb' } }],
    ['a header value with NUL', { allowed: true, headers: { 'x-a': 'a\u0000b' } }],
    ['a CRLF in the second value of an array', { allowed: true, headers: { 'set-cookie': ['a=1', 'b=2\r\n'] } }],
    ['a header value with another control character', { allowed: true, headers: { 'x-a': 'a\u0001b' } }],
    ['a header value with DEL', { allowed: false, headers: { 'x-a': 'a\u007fb' } }],
    ['a header value beyond Latin-1 (Node cannot write it)', { allowed: true, response_headers_to_add: { 'x-a': 'caf\u4e2d' } }],
    ['a Latin-1 header value (different bytes over gRPC and HTTP)', { allowed: false, headers: { 'x-a': 'caf\u00e9' } }],
    ['a request header to remove that is not a name', { allowed: true, request_headers_to_remove: ['x-\u4e2d'] }],
    ['a request header to remove with a space', { allowed: true, request_headers_to_remove: ['a b'] }],
  ])('%s is a forbidden_mutation', (_name, result) => {
    expect(failureOf(() => decide(result))).toBe('forbidden_mutation');
  });

  it.each<[string, Record<string, unknown>]>([
    ['ordinary upstream headers on allow', { allowed: true, headers: { 'x-user': 'alice', authorization: 'Bearer t' } }],
    ['x-envoy lookalike that is not the prefix', { allowed: true, headers: { 'x-envoyish': '1', 'my-x-envoy-a': '1' } }],
    ['hostname is not host', { allowed: true, headers: { hostname: 'a' }, request_headers_to_remove: ['host-id'] }],
    ['client headers on deny', { allowed: false, headers: { 'www-authenticate': 'Bearer', 'set-cookie': ['a=1', 'b=2'] } }],
    ['response headers on allow', { allowed: true, response_headers_to_add: { 'x-checked': 'yes' } }],
    ['a value with tabs and spaces', { allowed: true, headers: { 'x-a': ' a\tb ' } }],
    ['token punctuation in a name', { allowed: true, headers: { "x-a!#$%&'*+.^_`|~1": 'v' } }],
  ])('%s is accepted', (_name, result) => {
    expect(failureOf(() => decide(result))).toBe('no failure');
  });
});
