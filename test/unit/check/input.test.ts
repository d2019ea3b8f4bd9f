// src/check/input.ts against opa-envoy-plugin's input facts (reference opa-envoy-plugin.md §1.1, §1.3, §1.4, §4.1 items 1-13, 15).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildInput } from '../../../src/check/input.js';
import { parseBody } from '../../../src/request/body.js';
import { parsePath, parseQuery, percentDecode, queryJson } from '../../../src/request/url.js';
import { type Attributes, type HttpRequest } from '../../../src/envoy/types.js';
import { failureOf } from '../helpers.js';

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

describe('parsePath', () => {
  it.each([
    ['/my/test/path', ['my', 'test', 'path']],
    // §4.1 item 2: %2F is decoded before the split (url.PathUnescape)
    ['%2Fmy%2Ftest%2Fpath', ['my', 'test', 'path']],
    ['%2fmy%2ftest', ['my', 'test']],
    // §4.1 item 3 and GHSA-9f29-v6mm-pw6w: every leading slash goes, nothing else is dropped
    ['//x/people', ['x', 'people']],
    ['//admin/dashboard', ['admin', 'dashboard']],
    ['///admin', ['admin']],
    ['/%2F/admin', ['admin']],
    ['/', ['']],
    ['', ['']],
    ['/a/b/', ['a', 'b', '']],
    ['/a//b', ['a', '', 'b']],
    // path semantics: `+` stays `+`
    ['/a+b', ['a+b']],
    ['/a%20b', ['a b']],
    ['/a%2Bb', ['a+b']],
    ['/caf%C3%A9', ['café']],
    ['/%25', ['%']],
    ['/a/../b', ['a', '..', 'b']],
  ])('%j → %j', (path, expected) => {
    expect(parsePath(path)).toEqual(expected);
  });

  it.each(['/a%zz', '/a%2', '/%', '%', '/a%g0/b', '/100%'])('bad escape %j is a request_parse_error', (path) => {
    expect(failureOf(() => parsePath(path))).toBe('request_parse_error');
  });
});

describe('parseQuery', () => {
  it.each<[string, Record<string, string[]>]>([
    ['a=1&a=2&x=y', { a: ['1', '2'], x: ['y'] }],
    ['a=1&a=new%0aline', { a: ['1', 'new\nline'] }],
    ['a=1', { a: ['1'] }],
    ['a=1&b=2', { a: ['1'], b: ['2'] }],
    // `+` is a space in a query, %2B is a plus
    ['q=a+b', { q: ['a b'] }],
    ['q=a%2Bb', { q: ['a+b'] }],
    ['a+b=c', { 'a b': ['c'] }],
    ['k%20ey=v%3Dw', { 'k ey': ['v=w'] }],
    // a key without `=` gives [""]
    ['flag', { flag: [''] }],
    ['flag&flag=1', { flag: ['', '1'] }],
    ['a=', { a: [''] }],
    ['=1', { '': ['1'] }],
    ['a=b=c', { a: ['b=c'] }],
    ['', {}],
    ['&&a=1&&', { a: ['1'] }],
    ['x=%E2%82%AC', { x: ['€'] }],
  ])('%j → %j', (query, expected) => {
    expect(parseQuery(query)).toEqual(expected);
  });

  it('keeps the order in which values appear', () => {
    expect(parseQuery('b=2&a=1&b=3&a=4')).toEqual({ b: ['2', '3'], a: ['1', '4'] });
    expect(Object.keys(parseQuery('b=2&a=1&c=3'))).toEqual(['b', 'a', 'c']);
  });

  it.each([
    ['a=1;b=2'],
    ['a;b'],
    [';'],
    ['a=1&b=2;'],
    ['a=%zz'],
    ['a%=1'],
    ['a=%'],
    ['a=%4'],
    ['a=1&b=%G0'],
  ])('%j is a request_parse_error (`;` or a bad escape)', (query) => {
    expect(failureOf(() => parseQuery(query))).toBe('request_parse_error');
  });

  it('accepts up to 10000 `&`-separated settings, as Go 1.24+ does', () => {
    expect(parseQuery(Array(10_000).fill('a=1').join('&'))['a']).toHaveLength(10_000);
    expect(parseQuery('&'.repeat(9_999))).toEqual({});
  });

  it.each([
    ['10001 settings', Array(10_001).fill('a=1').join('&')],
    ['9999 settings and two empty ones', Array(9_999).fill('a=1').join('&') + '&&'],
    ['10001 empty settings', '&'.repeat(10_000)],
  ])('more than 10000 settings (%s) is a request_parse_error', (_name, query) => {
    expect(failureOf(() => parseQuery(query))).toBe('request_parse_error');
  });

  it('keeps "__proto__" and "constructor" as ordinary keys', () => {
    const values = parseQuery('__proto__=x&constructor=y&toString=z&__proto__=w');
    expect(Object.keys(values)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(values, '__proto__')?.value).toEqual(['x', 'w']);
    expect(values['constructor']).toEqual(['y']);
    expect(values['toString']).toEqual(['z']);
    expect(JSON.parse(JSON.stringify(values))).toEqual(JSON.parse('{"__proto__":["x","w"],"constructor":["y"],"toString":["z"]}'));
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });
});

describe('queryJson', () => {
  const stringified = (query: string): string => {
    try {
      return JSON.stringify(parseQuery(query));
    } catch (error) {
      return `error ${failureOf(() => parseQuery(query))}: ${(error as Error).message}`;
    }
  };
  const built = (query: string): string => {
    try {
      return queryJson(query);
    } catch (error) {
      return `error ${failureOf(() => queryJson(query))}: ${(error as Error).message}`;
    }
  };

  it.each([
    ['from=2026-11-01'],
    [''],
    ['&&'],
    ['b=2&a=1&b=3&a=4'],
    // array indexes come first in an object's key order, ascending; "01" and 2^32 - 1 are not indexes
    ['b=1&2=x&1=y&01=q&4294967295=z&4294967294=w&0=n'],
    ['__proto__=x&constructor=y&toString=z&__proto__=w'],
    ['q=a+b&k%20ey=v%3Dw&x=%E2%82%AC&e="\\'],
    ['a=1;b=2'],
    ['a=%zz'],
    [Array(10_001).fill('a=1').join('&')],
  ])('%j is JSON.stringify(parseQuery(query)) byte for byte, errors included', (query) => {
    expect(built(query)).toBe(stringified(query));
  });

  it('is JSON.stringify(parseQuery(query)) for any query', () => {
    const part = fc.oneof(fc.constantFrom('0', '1', '01', '10', '4294967294', '4294967295', '__proto__', 'a', '%41', '+', '%zz', '', ';'), fc.string());
    fc.assert(
      fc.property(fc.array(fc.tuple(part, fc.option(part)), { maxLength: 8 }), (pairs) => {
        const query = pairs.map(([key, value]) => (value === null ? key : `${key}=${value}`)).join('&');
        expect(built(query)).toBe(stringified(query));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('percentDecode', () => {
  it.each<[string, boolean, string | undefined]>([
    ['plain', false, 'plain'],
    ['plain', true, 'plain'],
    ['a+b', false, 'a+b'],
    ['a+b', true, 'a b'],
    ['%41%42', false, 'AB'],
    ['%2f', false, '/'],
    ['%2F', true, '/'],
    ['%0a', true, '\n'],
    ['%25', false, '%'],
    ['%2B+', true, '+ '],
    ['%e2%82%ac', false, '€'],
    ['%', false, undefined],
    ['%4', true, undefined],
    ['a%4', false, undefined],
    ['%G1', false, undefined],
    ['%1G', true, undefined],
    ['100%', false, undefined],
    ['%%41', false, undefined],
  ])('(%j, plusIsSpace=%s) → %j', (text, plusIsSpace, expected) => {
    expect(percentDecode(text, plusIsSpace)).toBe(expected);
  });
});

interface BodyCase {
  name: string;
  http: HttpRequest | undefined;
  parsed: unknown;
  truncated: boolean;
}

const json = { 'content-type': 'application/json' };
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const multipartFoo = { 'content-type': 'multipart/form-data; boundary=foo' };
const MULTIPART_BODY =
  '--foo\r\nContent-Disposition: form-data; name="foo"\r\n\r\nbar\r\n' +
  '--foo\r\nContent-Disposition: form-data; name="bar"\r\nContent-Type: application/json\r\n\r\n{"name":"bar"}\r\n' +
  '--foo--\r\n';

describe('parseBody', () => {
  const cases: BodyCase[] = [
    { name: 'no http request', http: undefined, parsed: null, truncated: false },
    { name: 'no headers', http: { body: '{"a":1}' }, parsed: null, truncated: false },
    // §4.1 item 11
    { name: 'no content-type', http: { headers: { 'content-length': '7' }, body: '{"a":1}' }, parsed: null, truncated: false },
    { name: 'text/html', http: { headers: { 'content-type': 'text/html' }, body: '<p>hi</p>' }, parsed: null, truncated: false },
    { name: 'empty JSON body', http: { headers: json, body: '' }, parsed: null, truncated: false },
    { name: 'JSON content type, no body field', http: { headers: json }, parsed: null, truncated: false },
    { name: 'empty JSON body with a content-length', http: { headers: { ...json, 'content-length': '100' } }, parsed: null, truncated: false },
    // §4.1 item 6
    {
      name: 'JSON object',
      http: { headers: json, body: '{"firstname": "foo", "lastname": "bar"}' },
      parsed: { firstname: 'foo', lastname: 'bar' },
      truncated: false,
    },
    { name: 'JSON string', http: { headers: json, body: '"foo"' }, parsed: 'foo', truncated: false },
    { name: 'JSON true', http: { headers: json, body: 'true' }, parsed: true, truncated: false },
    { name: 'JSON number', http: { headers: json, body: '42' }, parsed: 42, truncated: false },
    { name: 'JSON null', http: { headers: json, body: 'null' }, parsed: null, truncated: false },
    { name: 'JSON array', http: { headers: json, body: '["hello", "opa"]' }, parsed: ['hello', 'opa'], truncated: false },
    {
      name: 'JSON escapes, \\/ included',
      http: { headers: json, body: String.raw`["\"", "\\", "\/", "/", "\b", "\f", "\n", "\r", "\t", "\u0041"]` },
      parsed: ['"', '\\', '/', '/', '\b', '\f', '\n', '\r', '\t', 'A'],
      truncated: false,
    },
    {
      name: 'JSON content type matched by substring',
      http: { headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"a":1}' },
      parsed: { a: 1 },
      truncated: false,
    },
    // §4.1 item 7: pack_as_bytes
    {
      name: 'JSON from base64 rawBody',
      http: { headers: json, rawBody: 'ewogICAgImZpcnN0bmFtZSI6ICJmb28iLAogICAgImxhc3RuYW1lIjogImJhciIKfQ==' },
      parsed: { firstname: 'foo', lastname: 'bar' },
      truncated: false,
    },
    {
      name: 'body wins over rawBody',
      http: { headers: json, body: '{"from":"body"}', rawBody: base64('{"from":"raw"}') },
      parsed: { from: 'body' },
      truncated: false,
    },
    // §4.1 item 9: content-length larger than the body
    { name: 'JSON, content-length 1000, short body', http: { headers: { ...json, 'content-length': '1000' }, body: 'true' }, parsed: null, truncated: true },
    {
      name: 'JSON rawBody, content-length larger',
      http: { headers: { ...json, 'content-length': '1000' }, rawBody: base64('{"a":1}') },
      parsed: null,
      truncated: true,
    },
    { name: 'JSON, content-length equal', http: { headers: { ...json, 'content-length': '7' }, body: '{"a":1}' }, parsed: { a: 1 }, truncated: false },
    // content-length counts bytes: "é" is two of them
    {
      name: 'JSON, content-length equal in UTF-8 bytes',
      http: { headers: { ...json, 'content-length': '10' }, body: '{"a":"é"}' },
      parsed: { a: 'é' },
      truncated: false,
    },
    { name: 'JSON, content-length smaller', http: { headers: { ...json, 'content-length': '2' }, body: '{"a":1}' }, parsed: { a: 1 }, truncated: false },
    { name: 'JSON, content-length -1', http: { headers: { ...json, 'content-length': '-1' }, body: '{"a":1}' }, parsed: { a: 1 }, truncated: false },
    { name: 'JSON, content-length +7', http: { headers: { ...json, 'content-length': '+7' }, body: '{"a":1}' }, parsed: { a: 1 }, truncated: false },
    // §4.1 item 10: x-envoy-auth-partial-body
    {
      name: 'partial body true, JSON',
      http: { headers: { ...json, 'x-envoy-auth-partial-body': 'true' }, body: '{"a":1}' },
      parsed: null,
      truncated: true,
    },
    {
      name: 'partial body true, form',
      http: { headers: { ...form, 'x-envoy-auth-partial-body': 'true' }, body: 'a=1' },
      parsed: null,
      truncated: true,
    },
    {
      name: 'partial body true, multipart',
      http: { headers: { ...multipartFoo, 'x-envoy-auth-partial-body': 'true' }, body: MULTIPART_BODY },
      parsed: null,
      truncated: true,
    },
    {
      name: 'partial body true, invalid JSON is not parsed',
      http: { headers: { ...json, 'x-envoy-auth-partial-body': 'true' }, body: '{"a":' },
      parsed: null,
      truncated: true,
    },
    {
      name: 'partial body true, any content type',
      http: { headers: { 'content-type': 'text/html', 'x-envoy-auth-partial-body': 'true' }, body: 'x' },
      parsed: null,
      truncated: true,
    },
    {
      name: 'partial body true, no content type',
      http: { headers: { 'x-envoy-auth-partial-body': 'true' } },
      parsed: null,
      truncated: true,
    },
    {
      name: 'partial body false, JSON parses',
      http: { headers: { ...json, 'x-envoy-auth-partial-body': 'false' }, body: '{"a":1}' },
      parsed: { a: 1 },
      truncated: false,
    },
    {
      name: 'partial body false, form parses',
      http: { headers: { ...form, 'x-envoy-auth-partial-body': 'false' }, body: 'a=1' },
      parsed: { a: ['1'] },
      truncated: false,
    },
    {
      name: 'partial body false, multipart parses',
      http: { headers: { ...multipartFoo, 'x-envoy-auth-partial-body': 'false' }, body: MULTIPART_BODY },
      parsed: { foo: ['bar'], bar: [{ name: 'bar' }] },
      truncated: false,
    },
    {
      name: 'partial body must be exactly "true"',
      http: { headers: { ...json, 'x-envoy-auth-partial-body': 'True' }, body: '{"a":1}' },
      parsed: { a: 1 },
      truncated: false,
    },
    // §4.1 item 12: form bodies
    {
      name: 'form with a repeated key',
      http: { headers: form, body: 'firstname=foo&lastname=bar&lastname=foobar' },
      parsed: { firstname: ['foo'], lastname: ['bar', 'foobar'] },
      truncated: false,
    },
    {
      name: 'form from base64 rawBody',
      http: { headers: form, rawBody: 'Zmlyc3RuYW1lPWZvbyZsYXN0bmFtZT1iYXI=' },
      parsed: { firstname: ['foo'], lastname: ['bar'] },
      truncated: false,
    },
    { name: 'form, + is a space', http: { headers: form, body: 'q=a+b%21&flag' }, parsed: { q: ['a b!'], flag: [''] }, truncated: false },
    { name: 'form, empty body', http: { headers: form, body: '' }, parsed: null, truncated: false },
    {
      name: 'form, content-length 1000',
      http: { headers: { ...form, 'content-length': '1000' }, body: 'firstname=foo&lastname=bar' },
      parsed: null,
      truncated: true,
    },
    {
      name: 'form, content-length equal',
      http: { headers: { ...form, 'content-length': '26' }, body: 'firstname=foo&lastname=bar' },
      parsed: { firstname: ['foo'], lastname: ['bar'] },
      truncated: false,
    },
    {
      name: 'form content type with charset',
      http: { headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, body: 'a=1' },
      parsed: { a: ['1'] },
      truncated: false,
    },
    // §4.1 item 13: multipart
    { name: 'multipart with boundary foo', http: { headers: multipartFoo, body: MULTIPART_BODY }, parsed: { foo: ['bar'], bar: [{ name: 'bar' }] }, truncated: false },
    {
      name: 'multipart from base64 rawBody',
      http: { headers: multipartFoo, rawBody: base64(MULTIPART_BODY) },
      parsed: { foo: ['bar'], bar: [{ name: 'bar' }] },
      truncated: false,
    },
    {
      name: 'multipart, quoted boundary',
      http: { headers: { 'content-type': 'multipart/form-data; boundary="foo"' }, body: MULTIPART_BODY },
      parsed: { foo: ['bar'], bar: [{ name: 'bar' }] },
      truncated: false,
    },
    { name: 'multipart without boundary', http: { headers: { 'content-type': 'multipart/form-data' }, body: MULTIPART_BODY }, parsed: null, truncated: false },
    {
      name: 'multipart, other parameter but no boundary',
      http: { headers: { 'content-type': 'multipart/form-data; charset=utf-8' }, body: MULTIPART_BODY },
      parsed: null,
      truncated: false,
    },
    {
      name: 'multipart, content-length 1000',
      http: { headers: { ...multipartFoo, 'content-length': '1000' }, body: MULTIPART_BODY },
      parsed: null,
      truncated: true,
    },
    { name: 'multipart, empty body', http: { headers: multipartFoo, body: '' }, parsed: null, truncated: false },
  ];

  it.each(cases)('$name', ({ http, parsed, truncated }) => {
    const body = parseBody(http);
    expect(JSON.parse(body.json)).toEqual(parsed);
    expect(body.truncated).toBe(truncated);
  });

  it('compares content-length with the bytes Envoy sent, not with their UTF-8 decoding', () => {
    // 9 bytes, one of them not UTF-8 (decoded it becomes U+FFFD, 3 bytes)
    const rawBody = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff]), Buffer.from('"}')]).toString('base64');
    const cut = parseBody({ headers: { ...json, 'content-length': '10' }, rawBody });
    expect(JSON.parse(cut.json)).toBeNull();
    expect(cut.truncated).toBe(true);
    const whole = parseBody({ headers: { ...json, 'content-length': '9' }, rawBody });
    expect(JSON.parse(whole.json)).toEqual({ a: '\ufffd' });
    expect(whole.truncated).toBe(false);
  });

  it('keeps every digit of integers beyond 2^53 in the JSON text', () => {
    const body = parseBody({ headers: json, body: '{"id":12345678901234567890,"n":[9007199254740993]}' });
    expect(body.truncated).toBe(false);
    expect(body.json).toContain('12345678901234567890');
    expect(body.json).toContain('9007199254740993');
    expect(body.json).not.toContain('12345678901234567000');
  });

  it('keeps big integers from rawBody too', () => {
    const body = parseBody({ headers: json, rawBody: base64('12345678901234567890') });
    expect(body.json).toBe('12345678901234567890');
  });

  it.each<[string, HttpRequest]>([
    ['invalid JSON', { headers: json, body: '["foo" : 42}' }],
    ['truncated JSON', { headers: json, body: '{"a":' }],
    ['JSON with trailing data', { headers: json, body: '{"a":1} x' }],
    ['invalid JSON in rawBody', { headers: json, rawBody: base64('{nope}') }],
    ['non-numeric content-length', { headers: { ...json, 'content-length': 'abc' }, body: '{"a":1}' }],
    ['empty content-length', { headers: { ...json, 'content-length': '' }, body: '{"a":1}' }],
    ['content-length with a unit', { headers: { ...json, 'content-length': '12abc' }, body: '{"a":1}' }],
    ['content-length with a space', { headers: { ...json, 'content-length': ' 7' }, body: '{"a":1}' }],
    ['content-length beyond int64', { headers: { ...json, 'content-length': '9223372036854775808' }, body: '{"a":1}' }],
    ['form, non-numeric content-length', { headers: { ...form, 'content-length': 'x' }, body: 'a=1' }],
    ['form with `;`', { headers: form, body: 'a=1;b=2' }],
    ['form with a bad escape', { headers: form, body: 'a=%zz' }],
    ['malformed multipart (no closing boundary)', { headers: multipartFoo, body: '--foo\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue' }],
    ['multipart without any boundary line', { headers: multipartFoo, body: 'not multipart at all' }],
    // Go's mime.ParseMediaType rejects these content types, and an empty boundary fails in multipart.Reader
    ['multipart, a boundary parameter without a value', { headers: { 'content-type': 'multipart/form-data; boundary' }, body: MULTIPART_BODY }],
    ['multipart, two different boundaries', { headers: { 'content-type': 'multipart/form-data; boundary=foo; boundary=bar' }, body: MULTIPART_BODY }],
    ['multipart, an empty quoted boundary', { headers: { 'content-type': 'multipart/form-data; boundary=""' }, body: MULTIPART_BODY }],
    ['multipart, junk before the media type', { headers: { 'content-type': 'text/plain, multipart/form-data; boundary=foo' }, body: MULTIPART_BODY }],
    ['multipart with an invalid JSON part', {
      headers: multipartFoo,
      body: '--foo\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: application/json\r\n\r\n{nope\r\n--foo--\r\n',
    }],
  ])('%s is a request_parse_error', (_name, http) => {
    expect(failureOf(() => parseBody(http))).toBe('request_parse_error');
  });

  it('keeps "__proto__" as an ordinary key in form bodies', () => {
    const body = parseBody({ headers: form, body: '__proto__=polluted&constructor=x&a=1' });
    expect(body.json).toBe('{"__proto__":["polluted"],"constructor":["x"],"a":["1"]}');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('buildInput', () => {
  const attributes: Attributes = {
    source: {
      address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } },
      principal: 'spiffe://test-domain/path',
    },
    destination: { principal: 'spiffe://cluster.local/ns/data/sa/data' },
    request: {
      time: { seconds: 1605865667, nanos: 722473000 },
      http: {
        method: 'GET',
        path: '/my/test/path?a=1&a=2&x=y',
        headers: { ':authority': 'example.com', accept: 'application/json' },
        size: 41,
      },
    },
    contextExtensions: { route: 'r1' },
  };

  it('builds the opa-envoy-plugin v3 document (§1.1, §4.1 items 1, 4, 5)', () => {
    const built = buildInput(attributes, { skipBodyParse: false });
    const input = JSON.parse(built.json) as Record<string, unknown>;
    expect(input).toEqual({
      attributes,
      version: { ext_authz: 'v3', encoding: 'protojson' },
      parsed_path: ['my', 'test', 'path'],
      parsed_query: { a: ['1', '2'], x: ['y'] },
      parsed_body: null,
      truncated_body: false,
      source_principal: 'spiffe://test-domain/path',
    });
    expect(built.pathOnly).toBe('/my/test/path');
  });

  it.each<[string, string, string[], Record<string, string[]>]>([
    ['no query', '/my/test/path', ['my', 'test', 'path'], {}],
    ['empty query', '/my/test/path?', ['my', 'test', 'path'], {}],
    ['§4.1 item 2', '%2Fmy%2Ftest%2Fpath?a=1&a=new%0aline', ['my', 'test', 'path'], { a: ['1', 'new\nline'] }],
    ['§4.1 item 3', '//x/people?a=1', ['x', 'people'], { a: ['1'] }],
    ['only the first ? splits', '/p?x=/admin?y', ['p'], { x: ['/admin?y'] }],
    ['encoded ? stays in the path', '/a%3Fb?c=d', ['a?b'], { c: ['d'] }],
    ['root', '/', [''], {}],
    ['trailing slash', '/a/', ['a', ''], {}],
    ['+ in path and query', '/a+b?c=d+e', ['a+b'], { c: ['d e'] }],
  ])('%s: %j', (_name, path, parsedPath, parsedQuery) => {
    const built = buildInput({ request: { http: { path } } }, { skipBodyParse: false });
    const input = JSON.parse(built.json) as Record<string, unknown>;
    expect(input['parsed_path']).toEqual(parsedPath);
    expect(input['parsed_query']).toEqual(parsedQuery);
  });

  it('gives [""] and {} when there is no HTTP request', () => {
    const input = JSON.parse(buildInput({ source: { principal: 'spiffe://td/x' } }, { skipBodyParse: false }).json) as Record<string, unknown>;
    expect(input['parsed_path']).toEqual(['']);
    expect(input['parsed_query']).toEqual({});
    expect(input['parsed_body']).toBeNull();
    expect(input['truncated_body']).toBe(false);
  });

  it.each([
    ['empty principal', { source: { principal: '' }, request: { http: { path: '/' } } }],
    ['no principal', { source: {}, request: { http: { path: '/' } } }],
    ['no source', { request: { http: { path: '/' } } }],
  ])('leaves source_principal out with %s (§4.1 item 5)', (_name, attrs) => {
    const input = JSON.parse(buildInput(attrs as Attributes, { skipBodyParse: false }).json) as Record<string, unknown>;
    expect('source_principal' in input).toBe(false);
  });

  it('leaves both body keys out (not null) with skipBodyParse, even for invalid JSON (§4.1 item 15)', () => {
    const attrs: Attributes = { request: { http: { path: '/', headers: json, body: '{"a":' } } };
    const input = JSON.parse(buildInput(attrs, { skipBodyParse: true }).json) as Record<string, unknown>;
    expect('parsed_body' in input).toBe(false);
    expect('truncated_body' in input).toBe(false);
    expect(input['parsed_path']).toEqual(['']);
  });

  it('fails with request_parse_error on invalid JSON when bodies are parsed (§4.1 item 8)', () => {
    const attrs: Attributes = { request: { http: { path: '/', headers: json, body: '{"a":' } } };
    expect(failureOf(() => buildInput(attrs, { skipBodyParse: false }))).toBe('request_parse_error');
  });

  it.each(['/a?b=1;c=2', '/a%zz', '/a?b=%'])('fails with request_parse_error on %j', (path) => {
    expect(failureOf(() => buildInput({ request: { http: { path } } }, { skipBodyParse: false }))).toBe('request_parse_error');
  });

  it('puts a JSON body into the input with big integers intact', () => {
    const attrs: Attributes = { request: { http: { path: '/pay', headers: json, body: '{"amount":12345678901234567890}' } } };
    const built = buildInput(attrs, { skipBodyParse: false });
    expect(built.json).toContain('"parsed_body":{"amount":12345678901234567890}');
    expect(built.json).toContain('"truncated_body":false');
    expect(() => JSON.parse(built.json)).not.toThrow();
  });

  it('puts a multipart body into the input (§4.1 item 13)', () => {
    const attrs: Attributes = { request: { http: { path: '/upload', headers: multipartFoo, body: MULTIPART_BODY } } };
    const input = JSON.parse(buildInput(attrs, { skipBodyParse: false }).json) as Record<string, unknown>;
    expect(input['parsed_body']).toEqual({ foo: ['bar'], bar: [{ name: 'bar' }] });
  });

  it('keeps "__proto__" as an ordinary query key in the input', () => {
    const built = buildInput({ request: { http: { path: '/?__proto__=x&a=1' } } }, { skipBodyParse: false });
    expect(built.json).toContain('"parsed_query":{"__proto__":["x"],"a":["1"]}');
  });
});
