// Validates a message's wire bytes as a conformant protobuf decoder reads them, before protobufjs decodes them.
// protobufjs is lenient: it reads a known field by the type it expects whatever wire type the tag says, runs a
// length past its enclosing message, accepts invalid UTF-8 in proto3 strings, and keeps only the last copy of
// a singular message field where protobuf merges the copies. Each of those can make protobufjs see a request
// that Envoy (and Go's decoder, opa-envoy-plugin's) would read differently, so such bytes are refused (a deny,
// `malformed_request`) and nothing is decided on them. Envoy always sends valid, canonical protobuf: what is
// refused here beyond what Go refuses (a wrong wire type, which Go keeps as an unknown field; a singular field
// or a second oneof member sent twice, which Go merges or replaces) never comes from Envoy.
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';

/** undefined when the bytes are a valid message, else what is wrong with them (for the log). */
export type WireChecker = (bytes: Uint8Array) => string | undefined;

type Kind = 'varint' | 'fixed64' | 'fixed32' | 'string' | 'bytes' | 'message';

interface FieldSpec {
  kind: Kind;
  /** The wire type of `kind` (packed runs aside). */
  wireType: number;
  /** The message type of a message field or of a map's entries. */
  message?: TypeSpec;
  repeated: boolean;
  /** Repeated varint and fixed fields may also come packed (wire type 2). */
  packable: boolean;
  /** The position of the field, for the singular fields seen once. */
  index: number;
  /** The position of its oneof, or -1. */
  oneof: number;
}

interface TypeSpec {
  name: string;
  fields: Map<number, FieldSpec>;
  /** The same fields by number, for the numbers below DIRECT_FIELD_NUMBERS (every field Envoy's messages have). */
  byNumber: (FieldSpec | undefined)[];
}

// Field numbers below this are looked up in an array, the rest in the Map (a message's numbers are small).
const DIRECT_FIELD_NUMBERS = 64;

// A string of at most this many bytes is checked for UTF-8 here when it is ASCII (most are): no subarray, no
// call into C++. A longer one, or one with a byte of 0x80 or more, goes to isUtf8.
const ASCII_SCAN_BYTES = 256;

// Go's decoder nests up to 10,000 levels; Envoy's CheckRequests nest a few (Struct metadata a few more).
const MAX_DEPTH = 100;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

const MAX_FIELD_NUMBER = 2 ** 29 - 1;

const KIND_OF_SCALAR: Readonly<Record<string, Kind>> = {
  int32: 'varint', int64: 'varint', uint32: 'varint', uint64: 'varint', sint32: 'varint', sint64: 'varint', bool: 'varint',
  fixed64: 'fixed64', sfixed64: 'fixed64', double: 'fixed64',
  fixed32: 'fixed32', sfixed32: 'fixed32', float: 'fixed32',
  string: 'string', bytes: 'bytes',
};

const WIRE_TYPE_OF: Readonly<Record<Kind, number>> = { varint: WIRE_VARINT, fixed64: WIRE_FIXED64, fixed32: WIRE_FIXED32, string: WIRE_LENGTH, bytes: WIRE_LENGTH, message: WIRE_LENGTH };

/** The checker for messages of `type` (its descriptors read once, here). */
export function createWireChecker(type: protobuf.Type): WireChecker {
  const root = specOf(type, new Map());
  return (bytes) => {
    const walker = new Walker(bytes);
    try {
      walker.message(root, 0, bytes.length, 0);
      return undefined;
    } catch (error) {
      if (error instanceof WireError) return error.message;
      throw error;
    }
  };
}

function specOf(type: protobuf.Type, specs: Map<protobuf.Type, TypeSpec>): TypeSpec {
  const known = specs.get(type);
  if (known !== undefined) return known;
  const spec: TypeSpec = { name: type.fullName.replace(/^\./, ''), fields: new Map(), byNumber: [] };
  specs.set(type, spec);
  type.resolveAll();
  const oneofs = type.oneofsArray;
  type.fieldsArray.forEach((field, index) => {
    const oneof = field.partOf === null ? -1 : oneofs.indexOf(field.partOf);
    if (field instanceof protobuf.MapField) {
      setField(spec, field.id, { kind: 'message', wireType: WIRE_LENGTH, message: mapEntrySpec(field, specs), repeated: true, packable: false, index, oneof: -1 });
      return;
    }
    const resolved = field.resolvedType;
    let kind: Kind;
    let message: TypeSpec | undefined;
    if (resolved instanceof protobuf.Type) {
      kind = 'message';
      message = specOf(resolved, specs);
    } else if (resolved instanceof protobuf.Enum) {
      kind = 'varint';
    } else {
      kind = KIND_OF_SCALAR[field.type]!;
      if (kind === undefined) throw new Error(`${spec.name}.${field.name}: unknown field type ${field.type}`);
    }
    const packable = field.repeated && kind !== 'string' && kind !== 'bytes' && kind !== 'message';
    setField(spec, field.id, { kind, wireType: WIRE_TYPE_OF[kind], ...(message === undefined ? {} : { message }), repeated: field.repeated, packable, index, oneof });
  });
  return spec;
}

function setField(spec: TypeSpec, number: number, field: FieldSpec): void {
  spec.fields.set(number, field);
  if (number < DIRECT_FIELD_NUMBERS) spec.byNumber[number] = field;
}

/** A map field's entries are messages of key = 1, value = 2. */
function mapEntrySpec(field: protobuf.MapField, specs: Map<protobuf.Type, TypeSpec>): TypeSpec {
  const spec: TypeSpec = { name: `${field.parent?.name ?? ''}.${field.name} entry`, fields: new Map(), byNumber: [] };
  const keyKind = KIND_OF_SCALAR[field.keyType]!;
  setField(spec, 1, { kind: keyKind, wireType: WIRE_TYPE_OF[keyKind], repeated: false, packable: false, index: 0, oneof: -1 });
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    setField(spec, 2, { kind: 'message', wireType: WIRE_LENGTH, message: specOf(resolved, specs), repeated: false, packable: false, index: 1, oneof: -1 });
  } else {
    const valueKind = resolved instanceof protobuf.Enum ? 'varint' : KIND_OF_SCALAR[field.type]!;
    setField(spec, 2, { kind: valueKind, wireType: WIRE_TYPE_OF[valueKind], repeated: false, packable: false, index: 1, oneof: -1 });
  }
  return spec;
}

class WireError extends Error {}

/** Whether bytes[start, end) are valid UTF-8: ASCII (every byte below 0x80) is, and is common enough to scan for here. */
function isAsciiOrUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start <= ASCII_SCAN_BYTES) {
    let i = start;
    while (i < end && bytes[i]! < 0x80) i++;
    if (i === end) return true;
  }
  return isUtf8(bytes.subarray(start, end));
}

/** One pass over the bytes; `at` moves forward only. */
class Walker {
  readonly #bytes: Uint8Array;
  at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** The fields of one message from `start` up to exactly `end`. */
  message(spec: TypeSpec, start: number, end: number, depth: number): void {
    if (depth > MAX_DEPTH) throw new WireError(`messages nested deeper than ${MAX_DEPTH}`);
    this.at = start;
    // Singular fields and oneofs seen so far; a message has far fewer than 2^53 fields, but not all of them fit 31 bits.
    let seen: Set<number> | number = spec.fields.size <= 30 ? 0 : new Set<number>();
    let oneofsSeen = 0;
    const bytes = this.#bytes;
    while (this.at < end) {
      // A one-byte tag (fields 1-15) is read here; longer ones by varint().
      const first = bytes[this.at]!;
      const tag = first < 0x80 ? (this.at++, first) : this.varint(end);
      const number = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (number < 1 || number > MAX_FIELD_NUMBER) throw new WireError(`${spec.name}: invalid field number ${number}`);
      const field = number < DIRECT_FIELD_NUMBERS ? spec.byNumber[number] : spec.fields.get(number);
      if (field === undefined) {
        this.skip(spec, number, wireType, end, depth);
        continue;
      }
      if (!field.repeated) {
        if (typeof seen === 'number') {
          const bit = 1 << field.index;
          if ((seen & bit) !== 0) throw new WireError(`${spec.name}: field ${number} is not repeated but comes twice`);
          seen |= bit;
        } else {
          if (seen.has(number)) throw new WireError(`${spec.name}: field ${number} is not repeated but comes twice`);
          seen.add(number);
        }
        if (field.oneof !== -1) {
          const bit = 1 << field.oneof;
          if ((oneofsSeen & bit) !== 0) throw new WireError(`${spec.name}: field ${number} sets a oneof already set`);
          oneofsSeen |= bit;
        }
      }
      if (wireType === WIRE_LENGTH && field.packable) {
        this.packed(spec, field, number, end);
        continue;
      }
      if (wireType !== field.wireType) throw new WireError(`${spec.name}: field ${number} has wire type ${wireType}, expected ${field.wireType}`);
      this.value(spec, field, number, end, depth);
    }
    if (this.at !== end) throw new WireError(`${spec.name}: a field runs past the end of its message`);
  }

  value(spec: TypeSpec, field: FieldSpec, number: number, end: number, depth: number): void {
    switch (field.kind) {
      case 'varint':
        this.varint(end);
        return;
      case 'fixed64':
        this.advance(8, end, spec, number);
        return;
      case 'fixed32':
        this.advance(4, end, spec, number);
        return;
      case 'string': {
        const length = this.length(end, spec, number);
        if (!isAsciiOrUtf8(this.#bytes, this.at, this.at + length)) throw new WireError(`${spec.name}: field ${number} is a string but not valid UTF-8`);
        this.at += length;
        return;
      }
      case 'bytes': {
        // Not `this.at += this.length(…)`: that would add to the position from before the length prefix.
        const length = this.length(end, spec, number);
        this.at += length;
        return;
      }
      case 'message': {
        const length = this.length(end, spec, number);
        const inner = this.at + length;
        this.message(field.message!, this.at, inner, depth + 1);
        this.at = inner;
        return;
      }
    }
  }

  /** A packed run of varints or fixed values: whole elements, ending exactly at its length. */
  packed(spec: TypeSpec, field: FieldSpec, number: number, end: number): void {
    const length = this.length(end, spec, number);
    const runEnd = this.at + length;
    if (field.kind === 'varint') {
      while (this.at < runEnd) this.varint(runEnd);
      return;
    }
    const size = field.kind === 'fixed64' ? 8 : 4;
    if (length % size !== 0) throw new WireError(`${spec.name}: packed field ${number} is not a whole number of elements`);
    this.at = runEnd;
  }

  /** An unknown field, skipped as a conformant decoder keeps it: only its framing must be valid. */
  skip(spec: TypeSpec, number: number, wireType: number, end: number, depth: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint(end);
        return;
      case WIRE_FIXED64:
        this.advance(8, end, spec, number);
        return;
      case WIRE_FIXED32:
        this.advance(4, end, spec, number);
        return;
      case WIRE_LENGTH: {
        const length = this.length(end, spec, number);
        this.at += length;
        return;
      }
      case WIRE_START_GROUP: {
        if (depth + 1 > MAX_DEPTH) throw new WireError(`${spec.name}: groups nested deeper than ${MAX_DEPTH}`);
        for (;;) {
          if (this.at >= end) throw new WireError(`${spec.name}: group ${number} has no end`);
          const tag = this.varint(end);
          const inner = Math.floor(tag / 8);
          if (inner < 1 || inner > MAX_FIELD_NUMBER) throw new WireError(`${spec.name}: invalid field number ${inner} in group ${number}`);
          if (tag % 8 === WIRE_END_GROUP) {
            if (inner !== number) throw new WireError(`${spec.name}: group ${number} ends as group ${inner}`);
            return;
          }
          this.skip(spec, inner, tag % 8, end, depth + 1);
        }
      }
      default:
        throw new WireError(`${spec.name}: ${wireType === WIRE_END_GROUP ? `an end of group ${number} without its start` : `invalid wire type ${wireType} (field ${number})`}`);
    }
  }

  /** A varint of at most 10 bytes whose value fits 64 bits; returned as a number (exact up to 2^53, enough for tags). */
  varint(end: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= end) throw new WireError('a varint runs past the end of its message');
      const byte = this.#bytes[this.at++]!;
      if (i === 9 && byte > 1) throw new WireError('a varint overflows 64 bits');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new WireError('a varint is longer than 10 bytes');
  }

  /** A length prefix that stays within the enclosing message. */
  length(end: number, spec: TypeSpec, number: number): number {
    // A one-byte length (under 128) is read here; longer ones by varint().
    const first = this.at < end ? this.#bytes[this.at]! : 0x80;
    const length = first < 0x80 ? (this.at++, first) : this.varint(end);
    if (length > end - this.at) throw new WireError(`${spec.name}: field ${number} is longer than what is left of its message`);
    return length;
  }

  advance(count: number, end: number, spec: TypeSpec, number: number): void {
    if (count > end - this.at) throw new WireError(`${spec.name}: field ${number} runs past the end of its message`);
    this.at += count;
  }
}
