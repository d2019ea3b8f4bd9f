// parseASN1String and the certificate times, as Go renders them.
import { describe, expect, it } from 'vitest';
import { BuiltinError } from '../../../src/builtins/builtin.js';
import { TAG } from '../../../src/builtins/der.js';
import { formatGoTime, parseGeneralizedTime, parseUtcTime } from '../../../src/builtins/x509-time.js';
import { parseAsn1String } from '../../../src/builtins/x509-values.js';

describe('parseAsn1String', () => {
  it.each([
    [TAG.PrintableString, Buffer.from('Acme, Inc.'), 'Acme, Inc.'],
    [TAG.UTF8String, Buffer.from('Zürich'), 'Zürich'],
    [TAG.T61String, Buffer.from([0x5a, 0xfc]), 'Zü'],
    [TAG.BMPString, Buffer.from([0x00, 0x41, 0x20, 0xac, 0x00, 0x00]), 'A€'],
    [TAG.IA5String, Buffer.from('a@b.c'), 'a@b.c'],
    [TAG.NumericString, Buffer.from('12 34'), '12 34'],
  ])('tag %i reads %j', (tag, bytes, text) => {
    expect(parseAsn1String(tag, bytes)).toBe(text);
  });

  it.each([
    [TAG.PrintableString, Buffer.from('a@b')],
    [TAG.UTF8String, Buffer.from([0xff])],
    [TAG.BMPString, Buffer.from([0x00])],
    [TAG.BMPString, Buffer.from([0xd8, 0x00])],
    [TAG.IA5String, Buffer.from([0x80])],
    [TAG.NumericString, Buffer.from('1a')],
    [TAG.OCTET_STRING, Buffer.from('x')],
  ])('tag %i refuses %j', (tag, bytes) => {
    expect(() => parseAsn1String(tag, bytes)).toThrow(BuiltinError);
  });
});

describe('certificate times', () => {
  it.each([
    ['491231235959Z', '2049-12-31T23:59:59Z'],
    ['500101000000Z', '1950-01-01T00:00:00Z'],
    ['2401011200Z', '2024-01-01T12:00:00Z'],
    ['240101120000+0130', '2024-01-01T12:00:00+01:30'],
  ])('UTCTime %s is %s', (text, rfc3339) => {
    const time = parseUtcTime(text);
    expect(time === undefined ? undefined : formatGoTime(time)).toBe(rfc3339);
  });

  it('keeps the instant of an offset time', () => {
    expect(parseUtcTime('240101120000+0130')?.toISOString()).toBe('2024-01-01T10:30:00.000Z');
  });

  it.each([['240230000000Z'], ['241301000000Z'], ['2401011200'], ['24010112000Z'], ['240101120000+0000']])('UTCTime refuses %s', (text) => {
    expect(parseUtcTime(text)).toBeUndefined();
  });

  it.each([
    ['20500101000000Z', '2050-01-01T00:00:00Z'],
    ['99991231235959Z', '9999-12-31T23:59:59Z'],
    ['20240101000000.25Z', undefined],
    ['20240101000000+0530', '2024-01-01T00:00:00+05:30'],
    ['00010101000000Z', '0001-01-01T00:00:00Z'],
  ])('GeneralizedTime %s is %s', (text, rfc3339) => {
    const time = parseGeneralizedTime(text);
    expect(time === undefined ? undefined : formatGoTime(time)).toBe(rfc3339);
  });

  it.each([
    ['20240101000000.25Z', '2024-01-01T00:00:00.25Z'],
    ['20240101000000.250Z', undefined],
  ])('GeneralizedTime as encoding/asn1 reads it (fractions allowed): %s is %s', (text, rfc3339) => {
    const time = parseGeneralizedTime(text, true);
    expect(time === undefined ? undefined : formatGoTime(time)).toBe(rfc3339);
  });
});
