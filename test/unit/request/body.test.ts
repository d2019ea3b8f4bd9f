// src/request/body.ts against opa-envoy-plugin's input facts (reference opa-envoy-plugin.md §1.4, §4.1 items 6-13, 15):
// parsed_body and truncated_body.
import { describe, expect, it } from 'vitest';
import { parseBody } from '../../../src/request/body.js';
import { type HttpRequest } from '../../../src/envoy/types.js';
import { failureOf } from '../helpers.js';

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

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
