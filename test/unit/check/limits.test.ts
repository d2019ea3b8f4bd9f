// src/check/limits.ts: the path and header limits, in UTF-8 bytes, over `headers` and `header_map` alike.
import { describe, expect, it } from 'vitest';
import { checkRequestLimits, type RequestLimits } from '../../../src/check/limits.js';
import type { Attributes } from '../../../src/envoy/types.js';
import { CheckFailure } from '../../../src/errors.js';

const LIMITS: RequestLimits = { maxPathBytes: 300, maxHeaderBytes: 1024, maxHeaderCount: 20 };

function reasonFor(http: NonNullable<NonNullable<Attributes['request']>['http']>): string {
  try {
    checkRequestLimits({ request: { http } }, LIMITS);
    return 'within';
  } catch (error) {
    return error instanceof CheckFailure ? error.reason : `threw ${String(error)}`;
  }
}

describe('checkRequestLimits', () => {
  it.each([
    ['a path at the limit', { path: '/' + 'a'.repeat(299) }, 'within'],
    ['a path one byte over', { path: '/' + 'a'.repeat(300) }, 'path_too_long'],
    ['a query counts with the path', { path: '/a?' + 'q'.repeat(300) }, 'path_too_long'],
    ['bytes, not characters (é is two bytes)', { path: '/' + 'é'.repeat(150) }, 'path_too_long'],
    ['headers at the byte limit', { headers: { a: 'v'.repeat(1023) } }, 'within'],
    ['headers one byte over', { headers: { a: 'v'.repeat(1024) } }, 'headers_too_large'],
    ['names count too', { headers: { ['n'.repeat(1000)]: 'v'.repeat(100) } }, 'headers_too_large'],
    ['header values in UTF-8 bytes', { headers: { a: '€'.repeat(400) } }, 'headers_too_large'],
    ['as many headers as allowed', { headers: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`h${i}`, 'v'])) }, 'within'],
    ['one header more', { headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`h${i}`, 'v'])) }, 'headers_too_large'],
    ['header_map entries count', { headerMap: { headers: Array.from({ length: 21 }, (_, i) => ({ key: `h${i}`, rawValue: 'dg==' })) } }, 'headers_too_large'],
    ['header_map bytes count', { headerMap: { headers: [{ key: 'a', rawValue: 'A'.repeat(1100) }] } }, 'headers_too_large'],
    ['no path, no headers', {}, 'within'],
  ])('%s', (_name, http, expected) => {
    expect(reasonFor(http)).toBe(expected);
  });
});
