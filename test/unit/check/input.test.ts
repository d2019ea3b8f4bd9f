// src/check/input.ts against opa-envoy-plugin's input facts (reference opa-envoy-plugin.md §1.1, §1.3, §1.4): the
// document's keys and order, and what is denied before the policy.
import { describe, expect, it } from 'vitest';
import { buildInput } from '../../../src/check/input.js';
import { type Attributes } from '../../../src/envoy/types.js';
import { failureOf } from '../helpers.js';


// The bodies the parser tests use (test/unit/request/body.test.ts), here read through the whole document.
const json = { 'content-type': 'application/json' };
const multipartFoo = { 'content-type': 'multipart/form-data; boundary=foo' };
const MULTIPART_BODY =
  '--foo\r\nContent-Disposition: form-data; name="foo"\r\n\r\nbar\r\n' +
  '--foo\r\nContent-Disposition: form-data; name="bar"\r\nContent-Type: application/json\r\n\r\n{"name":"bar"}\r\n' +
  '--foo--\r\n';

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
