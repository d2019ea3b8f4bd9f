// src/request/utf8.ts: invalid UTF-8 becomes one U+FFFD per byte that starts no valid sequence, as Go's
// utf8.DecodeRune (and so opa-envoy-plugin's input) has it; valid text is decoded as it is.
import { describe, expect, it } from 'vitest';
import { decodeUtf8AsGo } from '../../../src/request/utf8.js';

const bytes = (...values: number[]): Buffer => Buffer.from(values);
const R = '\ufffd';

describe('decodeUtf8AsGo', () => {
  it.each<[string, Buffer, string]>([
    ['ASCII', Buffer.from('plain /api/v1'), 'plain /api/v1'],
    ['valid 2-, 3- and 4-byte sequences', Buffer.from('é中😀'), 'é中😀'],
    ['a truncated 3-byte sequence (E2 82): one per byte', bytes(0x2f, 0xe2, 0x82), `/${R}${R}`],
    ['a truncated sequence before ASCII', bytes(0xe2, 0x82, 0x41), `${R}${R}A`],
    ['a lone continuation byte', bytes(0x80), R],
    ['an overlong encoding (C0 80)', bytes(0xc0, 0x80), `${R}${R}`],
    ['an encoded surrogate (ED A0 80)', bytes(0xed, 0xa0, 0x80), `${R}${R}${R}`],
    ['beyond U+10FFFF (F4 90 80 80)', bytes(0xf4, 0x90, 0x80, 0x80), `${R}${R}${R}${R}`],
    ['F5 and FF', bytes(0xf5, 0xff), `${R}${R}`],
    ['E0 with a too-low second byte (E0 80 80)', bytes(0xe0, 0x80, 0x80), `${R}${R}${R}`],
    ['valid text around an invalid byte', Buffer.concat([Buffer.from('中'), bytes(0xff), Buffer.from('é')]), `中${R}é`],
  ])('%s', (_name, input, expected) => {
    expect(decodeUtf8AsGo(input)).toBe(expected);
  });

  it('decodes a range of a buffer', () => {
    expect(decodeUtf8AsGo(bytes(0x41, 0xe2, 0x82, 0x42), 1, 3)).toBe(`${R}${R}`);
  });
});
