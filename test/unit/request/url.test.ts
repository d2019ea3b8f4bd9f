// src/request/url.ts against opa-envoy-plugin's input facts (reference opa-envoy-plugin.md §1.1, §1.3, §4.1 items 1-5):
// Go's net/url for parsed_path, parsed_query and the escapes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parsePath, parseQuery, percentDecode, queryJson } from '../../../src/request/url.js';
import { failureOf } from '../helpers.js';

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
