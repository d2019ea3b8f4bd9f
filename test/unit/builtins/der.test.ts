// The DER reader refuses what Go's cryptobyte refuses, and reads what it reads.
import { describe, expect, it } from 'vitest';
import { BuiltinError } from '../../../src/builtins/builtin.js';
import { DerReader, TAG, base128Arcs, bitAt, integerOf, objectIdentifierOf, rightAlign } from '../../../src/builtins/der.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/ /g, ''), 'hex');

describe('DerReader.tryReadAny', () => {
  it.each([
    ['short form', '04 02 aa bb', 'aabb'],
    ['long form, minimal', `04 81 80 ${'00'.repeat(128)}`, '00'.repeat(128)],
  ])('reads %s', (_name, input, body) => {
    const element = new DerReader(hex(input)).tryReadAny();
    expect(element?.body.toString('hex')).toBe(body);
    expect(element?.full.length).toBe(hex(input).length);
  });

  it.each([
    ['a long form that fits the short form', '04 81 01 aa'],
    ['a length with a leading zero byte', `04 82 00 80 ${'00'.repeat(128)}`],
    ['an indefinite length', '30 80 00 00'],
    ['a high tag number', '1f 01 00'],
    ['a length beyond the input', '04 05 aa'],
    ['a lone tag', '04'],
  ])('refuses %s', (_name, input) => {
    expect(new DerReader(hex(input)).tryReadAny()).toBeUndefined();
  });

  it('fails with the message given when the tag differs', () => {
    expect(() => new DerReader(hex('02 01 01')).read(TAG.SEQUENCE, 'x509: malformed certificate')).toThrow(
      new BuiltinError('x509: malformed certificate'),
    );
  });

  it('reads booleans only as DER encodes them', () => {
    expect(new DerReader(hex('01 01 ff')).readBoolean('bad')).toBe(true);
    expect(new DerReader(hex('01 01 00')).readBoolean('bad')).toBe(false);
    expect(() => new DerReader(hex('01 01 01')).readBoolean('bad')).toThrow(BuiltinError);
  });
});

describe('integerOf', () => {
  it.each([
    ['00', 0n],
    ['7f', 127n],
    ['0080', 128n],
    ['ff', -1n],
    ['ff7f', -129n],
    ['00ffffffffffffffffff', (1n << 72n) - 1n],
  ])('reads %s as %s', (input, value) => {
    expect(integerOf(hex(input))).toBe(value);
  });

  it.each([[''], ['0001'], ['ffff']])('refuses the non-minimal or empty %j', (input) => {
    expect(integerOf(hex(input))).toBeUndefined();
  });

  it('refuses integers beyond 16384 bits (and a sign byte), which would be costly to write out', () => {
    expect(integerOf(Buffer.concat([Buffer.from([0x00]), Buffer.alloc(2048, 0xff)]))).toBe((1n << 16384n) - 1n);
    expect(integerOf(Buffer.concat([Buffer.from([0x01]), Buffer.alloc(2049)]))).toBeUndefined();
  });

  it('refuses negatives when asked to', () => {
    expect(integerOf(hex('ff'), false)).toBeUndefined();
  });
});

describe('object identifiers', () => {
  it.each([
    ['55 1d 11', [2, 5, 29, 17]],
    ['2a 86 48 86 f7 0d 01 01 0b', [1, 2, 840, 113549, 1, 1, 11]],
    ['88 37 03', [2, 999, 3]],
  ])('reads %s', (input, arcs) => {
    expect(objectIdentifierOf(hex(input))).toEqual(arcs);
  });

  it.each([
    ['an empty body', ''],
    ['a leading 0x80', '2a 80 01'],
    ['a truncated arc', '2a 86'],
    ['an arc of 2^31', '2a 88 80 80 80 00'],
  ])('refuses %s', (_name, input) => {
    expect(objectIdentifierOf(hex(input))).toBeUndefined();
  });

  it('keeps arcs of any size for x509.OID', () => {
    expect(base128Arcs(hex('2a 90 80 80 80 80 80 80 80 00'))).toEqual([42n, 1n << 60n]);
  });
});

describe('bit strings', () => {
  it('reads bits from the most significant end and right-aligns with the padding', () => {
    const bits = new DerReader(hex('03 02 05 a0')).readBitString('bad');
    expect(bits.bitLength).toBe(3);
    expect([0, 1, 2, 3].map((i) => bitAt(bits, i))).toEqual([1, 0, 1, 0]);
    expect(rightAlign(bits).toString('hex')).toBe('05');
  });

  it.each([
    ['padding above 7', '03 02 08 00'],
    ['padding without bits', '03 01 01'],
    ['set padding bits', '03 02 01 01'],
  ])('refuses %s', (_name, input) => {
    expect(() => new DerReader(hex(input)).readBitString('bad')).toThrow(BuiltinError);
  });
});
