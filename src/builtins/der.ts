// A DER reader with the strictness of Go's golang.org/x/crypto/cryptobyte, which crypto/x509 parses with.
//
// Why not a schema library (@peculiar/asn1-schema): Go's certificate JSON carries the exact DER slices of the
// certificate, its TBS part, subject, issuer and key (Raw, RawTBSCertificate, …), and Go rejects what
// cryptobyte rejects (non-minimal lengths, high tag numbers, indefinite lengths, loose booleans). A decoded
// schema object keeps neither the slices nor those refusals; this reader keeps both.
import { fail } from './builtin.js';

/** Tag bytes as cryptobyte names them: class and constructed bits plus a low tag number. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OBJECT_IDENTIFIER: 0x06,
  UTF8String: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PrintableString: 0x13,
  T61String: 0x14,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  NumericString: 0x12,
  BMPString: 0x1e,
} as const;

/** Context-specific tag n, primitive. */
export const contextTag = (n: number): number => 0x80 | n;
/** Context-specific tag n, constructed. */
export const contextConstructed = (n: number): number => 0xa0 | n;

export interface Element {
  readonly tag: number;
  /** The whole element, header included. */
  readonly full: Buffer;
  /** The contents, header excluded. */
  readonly body: Buffer;
}

/** A cursor over DER bytes; each read either consumes one element or fails with the message given. */
export class DerReader {
  private offset = 0;

  constructor(private readonly bytes: Buffer) {}

  get empty(): boolean {
    return this.offset >= this.bytes.length;
  }

  /** The bytes not read yet. */
  rest(): Buffer {
    return this.bytes.subarray(this.offset);
  }

  /** The next element's tag, or -1 at the end (cryptobyte's PeekASN1Tag). */
  peekTag(): number {
    return this.empty ? -1 : this.bytes[this.offset]!;
  }

  /** Reads any element (cryptobyte's ReadAnyASN1Element); undefined when the bytes are not one DER element. */
  tryReadAny(): Element | undefined {
    const s = this.bytes;
    const start = this.offset;
    if (s.length - start < 2) return undefined;
    const tag = s[start]!;
    if ((tag & 0x1f) === 0x1f) return undefined; // high-tag-number form is not supported, as in cryptobyte
    const lengthByte = s[start + 1]!;
    let headerLength: number;
    let length: number;
    if ((lengthByte & 0x80) === 0) {
      headerLength = 2;
      length = lengthByte;
    } else {
      const lengthLength = lengthByte & 0x7f;
      if (lengthLength === 0 || lengthLength > 4 || s.length - start < 2 + lengthLength) return undefined;
      let value = 0;
      for (let i = 0; i < lengthLength; i++) value = value * 256 + s[start + 2 + i]!;
      // DER: the short form when it fits, and no leading zero bytes.
      if (value < 128) return undefined;
      if (s[start + 2] === 0) return undefined;
      headerLength = 2 + lengthLength;
      length = value;
    }
    if (s.length - start - headerLength < length) return undefined;
    this.offset = start + headerLength + length;
    return { tag, full: s.subarray(start, this.offset), body: s.subarray(start + headerLength, this.offset) };
  }

  readAny(message: string): Element {
    return this.tryReadAny() ?? fail(message);
  }

  /** Reads an element with this tag (cryptobyte's ReadASN1 / ReadASN1Element). */
  read(tag: number, message: string): Element {
    if (this.peekTag() !== tag) fail(message);
    return this.readAny(message);
  }

  /** Reads the element if it carries this tag (cryptobyte's ReadOptionalASN1). */
  readOptional(tag: number, message: string): Element | undefined {
    if (this.peekTag() !== tag) return undefined;
    return this.readAny(message);
  }

  readInteger(message: string): bigint {
    return integerOf(this.read(TAG.INTEGER, message).body) ?? fail(message);
  }

  readObjectIdentifier(message: string): number[] {
    return objectIdentifierOf(this.read(TAG.OBJECT_IDENTIFIER, message).body) ?? fail(message);
  }

  readBoolean(message: string): boolean {
    const body = this.read(TAG.BOOLEAN, message).body;
    if (body.length !== 1 || (body[0] !== 0 && body[0] !== 0xff)) fail(message);
    return body[0] === 0xff;
  }

  readBitString(message: string): BitString {
    return bitStringOf(this.read(TAG.BIT_STRING, message).body) ?? fail(message);
  }
}

/**
 * The largest INTEGER read, in bytes: 16384 bits and a sign byte, room for any RSA modulus in use. Go has no
 * bound, but writing a bigger number as decimal JSON costs time quadratic in its size (an 8 Mbit integer
 * takes seconds), and the input may come from a caller (a client certificate), so bigger ones are refused.
 */
export const MAX_INTEGER_BYTES = 2049;

/** A two's-complement DER INTEGER, refused unless minimally encoded (cryptobyte's checkASN1Integer). */
export function integerOf(body: Buffer, allowNegative = true): bigint | undefined {
  if (body.length === 0 || body.length > MAX_INTEGER_BYTES) return undefined;
  if (body.length > 1 && ((body[0] === 0 && (body[1]! & 0x80) === 0) || (body[0] === 0xff && (body[1]! & 0x80) === 0x80))) return undefined;
  let value = BigInt(`0x${body.toString('hex')}`);
  if ((body[0]! & 0x80) !== 0) value -= 1n << BigInt(body.length * 8);
  if (!allowNegative && value < 0n) return undefined;
  return value;
}

/** asn1.ObjectIdentifier as cryptobyte reads it: each arc below 2^31, minimally encoded. */
export function objectIdentifierOf(body: Buffer): number[] | undefined {
  const arcs = base128Arcs(body, 31);
  if (arcs === undefined || arcs.length === 0) return undefined;
  const first = Number(arcs[0]);
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1).map(Number)];
}

/** Base-128 arcs, minimal; maxBits bounds each arc (31 as cryptobyte, undefined: any size, as x509.OID). */
export function base128Arcs(body: Buffer, maxBits?: number): bigint[] | undefined {
  const arcs: bigint[] = [];
  let value = 0n;
  let bytesInArc = 0;
  for (const byte of body) {
    if (bytesInArc === 0 && byte === 0x80) return undefined;
    if (maxBits !== undefined && (bytesInArc === 5 || value >= 1n << BigInt(maxBits - 7))) return undefined;
    value = (value << 7n) | BigInt(byte & 0x7f);
    bytesInArc++;
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
      bytesInArc = 0;
    }
  }
  if (bytesInArc !== 0) return undefined;
  return arcs;
}

export interface BitString {
  readonly bytes: Buffer;
  readonly bitLength: number;
}

function bitStringOf(body: Buffer): BitString | undefined {
  if (body.length === 0) return undefined;
  const padding = body[0]!;
  if (padding > 7 || (body.length === 1 && padding > 0) || (body[body.length - 1]! & ((1 << padding) - 1)) !== 0) return undefined;
  return { bytes: body.subarray(1), bitLength: (body.length - 1) * 8 - padding };
}

/** asn1.BitString.At: bit i counted from the most significant bit of the first byte. */
export function bitAt(bits: BitString, i: number): number {
  if (i < 0 || i >= bits.bitLength) return 0;
  return (bits.bytes[Math.floor(i / 8)]! >> (7 - (i % 8))) & 1;
}

/** asn1.BitString.RightAlign: the bits shifted so that padding sits at the start. */
export function rightAlign(bits: BitString): Buffer {
  const shift = 8 - (bits.bitLength % 8);
  if (shift === 8 || bits.bytes.length === 0) return bits.bytes;
  const out = Buffer.alloc(bits.bytes.length);
  out[0] = bits.bytes[0]! >> shift;
  for (let i = 1; i < bits.bytes.length; i++) {
    out[i] = ((bits.bytes[i - 1]! << (8 - shift)) | (bits.bytes[i]! >> shift)) & 0xff;
  }
  return out;
}
