// gRPC request bodies → parsed_body, as opa-envoy-plugin's getGRPCBody (envoyauth/request.go) does it with a
// `proto-descriptor`: the first length-prefixed message of /pkg.Service/Method, decoded with the method's request
// type from a binary FileDescriptorSet and rendered as protojson (google.golang.org/protobuf/encoding/protojson).
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { CheckFailure } from '../errors.js';

/** The request types of a FileDescriptorSet's methods, and protojson for their messages. */
export interface GrpcBodyDecoder {
  /** The request message type of `service`/`method`; undefined when unknown or client-streaming (OEP: null). */
  requestType(service: string, method: string): protobuf.Type | undefined;
  /** protojson text of one message of `type`; throws on a decode or rendering failure. */
  toJson(type: protobuf.Type, bytes: Uint8Array): string;
}

export interface GrpcBody {
  /** JSON text of parsed_body */
  json: string;
  truncated: boolean;
}

const NOT_PARSED: GrpcBody = { json: 'null', truncated: false };
const TRUNCATED: GrpcBody = { json: 'null', truncated: true };

/**
 * parsed_body for a gRPC request whose parsed_path is [service, method]: 5-byte framing (flag, big-endian length),
 * a compressed message is not parsed, a declared length beyond the bytes received means a truncated body, only the
 * first message is decoded. Throws CheckFailure('request_parse_error') where opa-envoy-plugin answers 400.
 */
export function parseGrpcBody(decoder: GrpcBodyDecoder, service: string, method: string, raw: Uint8Array): GrpcBody {
  if (raw.length < 5) throw new CheckFailure('request_parse_error', 'gRPC body of less than 5 bytes');
  if (raw[0] !== 0) return NOT_PARSED;
  const size = ((raw[1]! << 24) | (raw[2]! << 16) | (raw[3]! << 8) | raw[4]!) >>> 0;
  if (size > raw.length - 5) return TRUNCATED;
  const type = decoder.requestType(service, method);
  if (type === undefined) return NOT_PARSED;
  try {
    return { json: decoder.toJson(type, raw.subarray(5, 5 + size)), truncated: false };
  } catch (error) {
    if (error instanceof CheckFailure) throw error;
    throw new CheckFailure('request_parse_error', `gRPC message does not decode as ${type.fullName.slice(1)}: ${(error as Error).message}`);
  }
}

/** Reads a descriptor file; `problem` says what is wrong (for the ConfigError). */
export function loadGrpcBodyDecoder(path: string): GrpcBodyDecoder | { problem: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    return { problem: `cannot read the proto descriptor: ${(error as Error).message}` };
  }
  try {
    return createGrpcBodyDecoder(bytes);
  } catch (error) {
    return { problem: `not a FileDescriptorSet (protoc --descriptor_set_out FILE --include_imports): ${(error as Error).message}` };
  }
}

interface FieldDescriptorLike {
  name?: string;
  jsonName?: string;
}
interface MessageDescriptorLike {
  name?: string;
  options?: { mapEntry?: boolean };
  field?: FieldDescriptorLike[];
  nestedType?: MessageDescriptorLike[];
}
interface FileDescriptorLike {
  package?: string;
  messageType?: MessageDescriptorLike[];
}

/** Builds the decoder from a binary FileDescriptorSet; throws when the bytes are not one or do not resolve. */
export function createGrpcBodyDecoder(bytes: Uint8Array): GrpcBodyDecoder {
  const set = descriptor.FileDescriptorSet.decode(bytes) as unknown as { file?: FileDescriptorLike[] };
  const files = set.file ?? [];
  if (files.length === 0) throw new Error('it holds no file descriptors');
  // protobufjs drops json_name and turns map fields into repeated entry messages (and marks the wrong type as
  // map_entry); protojson needs both, so they are kept here: json names by "<.full.Type>.<field>", entry types.
  const jsonNames = new Map<string, string>();
  const mapEntries = new Set<string>();
  const collect = (message: MessageDescriptorLike, prefix: string): void => {
    const full = `${prefix}.${message.name ?? ''}`;
    if (message.options?.mapEntry === true) mapEntries.add(full);
    for (const field of message.field ?? []) if (field.jsonName) jsonNames.set(`${full}.${field.name ?? ''}`, field.jsonName);
    for (const nested of message.nestedType ?? []) collect(nested, full);
  };
  for (const file of files) for (const message of file.messageType ?? []) collect(message, file.package ? `.${file.package}` : '');

  let root: protobuf.Root;
  try {
    // protobufjs/ext/descriptor adds Root.fromDescriptor to protobufjs's Root.
    root = (protobuf.Root as unknown as { fromDescriptor(set: unknown): protobuf.Root }).fromDescriptor(set);
  } catch (error) {
    throw new Error(`${(error as Error).message} (built without --include_imports?)`);
  }
  const services = new Map<string, protobuf.Service>();
  const walk = (namespace: protobuf.NamespaceBase): void => {
    for (const nested of namespace.nestedArray) {
      if (nested instanceof protobuf.Service) services.set(nested.fullName.slice(1), nested);
      if (nested instanceof protobuf.Namespace) walk(nested);
    }
  };
  walk(root);
  const renderer = new Renderer(root, jsonNames, mapEntries);
  return {
    requestType(service: string, method: string): protobuf.Type | undefined {
      const found = services.get(service);
      if (found === undefined || !Object.hasOwn(found.methods, method)) return undefined;
      const rpc = found.methods[method]!;
      if (rpc.requestStream) return undefined;
      return rpc.resolvedRequestType ?? undefined;
    },
    toJson(type: protobuf.Type, message: Uint8Array): string {
      checkWire(type, message, 0);
      return JSON.stringify(renderer.message(type, type.decode(message) as unknown as Record<string, unknown>));
    },
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// Scalars in `value` of the wrappers render as the plain value.
const WRAPPERS = new Set(
  ['Bool', 'String', 'Bytes', 'Int32', 'UInt32', 'Int64', 'UInt64', 'Float', 'Double'].map((name) => `.google.protobuf.${name}Value`),
);
// google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z; Duration: ±10000 years.
const MIN_TIMESTAMP_SECONDS = -62135596800n;
const MAX_TIMESTAMP_SECONDS = 253402300799n;
const MAX_DURATION_SECONDS = 315576000000n;

/** Go protojson's JSON name: json_name from the descriptor, else underscores dropped and the next letter raised. */
export function jsonCamelCase(name: string): string {
  let out = '';
  let afterUnderscore = false;
  for (const char of name) {
    if (char === '_') {
      afterUnderscore = true;
      continue;
    }
    out += afterUnderscore && char >= 'a' && char <= 'z' ? char.toUpperCase() : char;
    afterUnderscore = false;
  }
  return out;
}

/** Shortest decimal that reads back as the same float32 (Go: strconv.FormatFloat(v, 'g', -1, 32)). */
function float32Value(value: number): number {
  for (let precision = 1; precision < 10; precision++) {
    const candidate = Number(value.toPrecision(precision));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

/** A 64-bit integer as decoded (long.js Long carrying its signedness, or a number without long.js) in decimal. */
function longToString(value: unknown): string {
  return String(value);
}

function toBigInt(value: unknown): bigint {
  return BigInt(longToString(value ?? 0));
}

/** Fraction digits as protojson writes them: none, 3, 6 or 9. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  return '.' + (nanos % 1_000_000 === 0 ? digits.slice(0, 3) : nanos % 1_000 === 0 ? digits.slice(0, 6) : digits);
}

class Renderer {
  constructor(
    private readonly root: protobuf.Root,
    private readonly jsonNames: ReadonlyMap<string, string>,
    private readonly mapEntries: ReadonlySet<string>,
  ) {}

  message(type: protobuf.Type, message: Record<string, unknown>): Json {
    switch (type.fullName) {
      case '.google.protobuf.Timestamp':
        return this.timestamp(message);
      case '.google.protobuf.Duration':
        return this.duration(message);
      case '.google.protobuf.Struct':
        return this.struct(type, message);
      case '.google.protobuf.Value':
        return this.value(type, message);
      case '.google.protobuf.ListValue':
        return this.list(type, message);
      case '.google.protobuf.Any':
        return this.any(type, message);
      case '.google.protobuf.FieldMask': {
        const paths = (message[type.fieldsById[1]!.name] as string[] | undefined) ?? [];
        return paths.map(jsonCamelCase).join(',');
      }
    }
    if (WRAPPERS.has(type.fullName)) {
      const field = type.fieldsById[1]!;
      return this.single(field, message[field.name] ?? field.typeDefault);
    }
    const out: { [key: string]: Json } = Object.create(null) as { [key: string]: Json };
    for (const field of type.fieldsArray) {
      const value = message[field.name];
      if (!Object.hasOwn(message, field.name) || value === undefined || value === null) continue;
      field.resolve();
      const name = this.jsonNames.get(`${type.fullName}.${field.name}`) ?? jsonCamelCase(field.name);
      const entry = this.entryType(field);
      if (entry !== undefined) {
        const entries = value as Record<string, unknown>[];
        if (entries.length === 0) continue;
        out[name] = this.map(entry, entries);
      } else if (field.repeated) {
        const items = value as unknown[];
        if (items.length === 0) continue;
        out[name] = items.map((item) => this.single(field, item));
      } else {
        // Fields without presence (proto3 scalars and enums) are left out at their default value.
        if (!(field.resolvedType instanceof protobuf.Type) && !field.hasPresence && isDefault(value)) continue;
        out[name] = this.single(field, value);
      }
    }
    return out;
  }

  /** The entry type of a map field (a repeated field of a map_entry message), else undefined. */
  private entryType(field: protobuf.Field): protobuf.Type | undefined {
    const type = field.resolvedType;
    return field.repeated && type instanceof protobuf.Type && this.mapEntries.has(type.fullName) ? type : undefined;
  }

  /** Map entries as an object; keys as strings (bools "true"/"false", integers in decimal); the last duplicate wins. */
  private map(entry: protobuf.Type, entries: Record<string, unknown>[]): { [key: string]: Json } {
    const keyField = entry.fieldsById[1]!.resolve();
    const valueField = entry.fieldsById[2]!.resolve();
    const valueType = valueField.resolvedType;
    const object: { [key: string]: Json } = Object.create(null) as { [key: string]: Json };
    for (const item of entries) {
      const key = String(item[keyField.name]);
      let value = item[valueField.name];
      if (value === null || value === undefined) {
        value = valueType instanceof protobuf.Type ? valueType.create() : valueField.typeDefault;
      }
      object[key] = this.single(valueField, value);
    }
    return object;
  }

  private single(field: protobuf.Field, value: unknown): Json {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.message(resolved, value as Record<string, unknown>);
    if (resolved instanceof protobuf.Enum) {
      if (resolved.fullName === '.google.protobuf.NullValue') return null;
      return resolved.valuesById[value as number] ?? (value as number);
    }
    switch (field.type) {
      case 'double':
      case 'float': {
        const number = value as number;
        if (Number.isNaN(number)) return 'NaN';
        if (number === Infinity) return 'Infinity';
        if (number === -Infinity) return '-Infinity';
        return field.type === 'float' ? float32Value(number) : number;
      }
      case 'int64':
      case 'sint64':
      case 'sfixed64':
      case 'uint64':
      case 'fixed64':
        return longToString(value);
      case 'bytes':
        return Buffer.from(value as Uint8Array).toString('base64');
      case 'string':
        return value as string;
      case 'bool':
        return value as boolean;
      default:
        return value as number;
    }
  }

  private timestamp(message: Record<string, unknown>): Json {
    const seconds = toBigInt(message['seconds']);
    const nanos = (message['nanos'] as number | undefined) ?? 0;
    if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS) throw new Error('google.protobuf.Timestamp: seconds out of range');
    if (nanos < 0 || nanos >= 1e9) throw new Error('google.protobuf.Timestamp: nanos out of range');
    const date = new Date(Number(seconds) * 1000);
    const iso = date.toISOString(); // years 0001-9999: "YYYY-MM-DDTHH:mm:ss.sssZ"
    return iso.slice(0, 19) + fraction(nanos) + 'Z';
  }

  private duration(message: Record<string, unknown>): Json {
    const seconds = toBigInt(message['seconds']);
    const nanos = (message['nanos'] as number | undefined) ?? 0;
    if (seconds < -MAX_DURATION_SECONDS || seconds > MAX_DURATION_SECONDS) throw new Error('google.protobuf.Duration: seconds out of range');
    if (nanos <= -1e9 || nanos >= 1e9) throw new Error('google.protobuf.Duration: nanos out of range');
    if ((seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0)) throw new Error('google.protobuf.Duration: seconds and nanos have different signs');
    const negative = seconds < 0n || nanos < 0;
    const absolute = seconds < 0n ? -seconds : seconds;
    return (negative ? '-' : '') + absolute.toString() + fraction(Math.abs(nanos)) + 's';
  }

  private struct(type: protobuf.Type, message: Record<string, unknown>): Json {
    const field = type.fieldsById[1]!.resolve();
    const entry = field.resolvedType;
    if (!(entry instanceof protobuf.Type)) throw new Error('google.protobuf.Struct: fields is not a map');
    return this.map(entry, (message[field.name] as Record<string, unknown>[] | undefined) ?? []);
  }

  private list(type: protobuf.Type, message: Record<string, unknown>): Json {
    const field = type.fieldsById[1]!.resolve();
    return ((message[field.name] as unknown[] | undefined) ?? []).map((item) => this.single(field, item));
  }

  private value(type: protobuf.Type, message: Record<string, unknown>): Json {
    // The `kind` oneof: the member that is set (the last one on the wire wins in Go).
    let set: protobuf.Field | undefined;
    for (const field of type.fieldsArray) if (Object.hasOwn(message, field.name) && message[field.name] != null) set = field;
    if (set === undefined) throw new Error('google.protobuf.Value: none of the oneof fields is set');
    set.resolve();
    const value = this.single(set, message[set.name]);
    if (set.type === 'double' && typeof value === 'string') throw new Error('google.protobuf.Value: not a finite number');
    return value;
  }

  private any(type: protobuf.Type, message: Record<string, unknown>): Json {
    const typeUrl = (message[type.fieldsById[1]!.name] as string | undefined) ?? '';
    const bytes = (message[type.fieldsById[2]!.name] as Uint8Array | undefined) ?? new Uint8Array();
    if (typeUrl === '') {
      if (bytes.length === 0) return {};
      throw new Error('google.protobuf.Any: missing type_url');
    }
    const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    let inner: protobuf.Type;
    try {
      inner = this.root.lookupType(`.${name}`);
    } catch {
      // The type URL is the request's, so it stays out of the message (which is logged).
      throw new Error('google.protobuf.Any: its type_url names no type of the descriptor');
    }
    checkWire(inner, bytes, 0);
    const rendered = this.message(inner, inner.decode(bytes) as unknown as Record<string, unknown>);
    if (typeof rendered !== 'object' || rendered === null || Array.isArray(rendered) || hasCustomJson(inner)) {
      return { '@type': typeUrl, value: rendered };
    }
    return { '@type': typeUrl, ...rendered };
  }
}

const WIRE_TYPES: Readonly<Record<string, number>> = {
  double: 1, fixed64: 1, sfixed64: 1,
  float: 5, fixed32: 5, sfixed32: 5,
  int32: 0, uint32: 0, sint32: 0, int64: 0, uint64: 0, sint64: 0, bool: 0,
  string: 2, bytes: 2,
};
const MAX_DEPTH = 100;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What Go's proto.Unmarshal refuses and protobufjs lets through: truncated or unknown wire types, a known field
 * sent with another wire type, over-long varints, strings that are not UTF-8 where the syntax requires it (proto3).
 */
function checkWire(type: protobuf.Type, bytes: Uint8Array, depth: number): void {
  if (depth > MAX_DEPTH) throw new Error('exceeds the maximum nesting depth');
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = readVarint(reader);
    const number = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (number < 1 || number > 536870911) throw new Error(`invalid field number ${number}`);
    const field = type.fieldsById[number];
    if (field !== undefined) {
      field.resolve();
      const resolved = field.resolvedType;
      const expected = resolved instanceof protobuf.Type ? (field.delimited ? 3 : 2) : resolved instanceof protobuf.Enum ? 0 : WIRE_TYPES[field.type];
      const packed = field.repeated && wire === 2 && expected !== 2 && expected !== 3;
      if (wire !== expected && !packed) throw new Error(`field ${field.name} sent with wire type ${wire}`);
    }
    switch (wire) {
      case 0:
        readVarint(reader);
        break;
      case 1:
        reader.skip(8);
        break;
      case 5:
        reader.skip(4);
        break;
      case 2: {
        const length = readVarint(reader);
        if (length > BigInt(reader.len - reader.pos)) throw new Error('length-delimited field runs past the end');
        const start = reader.pos;
        reader.skip(Number(length));
        const content = bytes.subarray(start, reader.pos);
        if (field?.resolvedType instanceof protobuf.Type) checkWire(field.resolvedType, content, depth + 1);
        else if (field?.type === 'string' && verifiesUtf8(field)) utf8.decode(content);
        break;
      }
      case 3:
        reader.skipType(3);
        break;
      default:
        throw new Error(`invalid wire type ${wire}`);
    }
  }
}

function verifiesUtf8(field: protobuf.Field): boolean {
  const features = (field as unknown as { _features?: { utf8_validation?: string } })._features;
  return features?.utf8_validation === 'VERIFY';
}

/** A varint of at most 10 bytes, as an unsigned 64-bit value. */
function readVarint(reader: protobuf.Reader): bigint {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (reader.pos >= reader.len) throw new Error('varint runs past the end');
    const byte = reader.buf[reader.pos++]!;
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) return value & 0xffffffffffffffffn;
  }
  throw new Error('varint longer than 10 bytes');
}

function hasCustomJson(type: protobuf.Type): boolean {
  return (
    WRAPPERS.has(type.fullName) ||
    ['Timestamp', 'Duration', 'Struct', 'Value', 'ListValue', 'Any', 'FieldMask'].some((name) => type.fullName === `.google.protobuf.${name}`)
  );
}

/** proto3's "not populated": zero (but not -0.0), empty string or bytes, false, enum 0. */
function isDefault(value: unknown): boolean {
  if (typeof value === 'number') return Object.is(value, 0);
  if (typeof value === 'string') return value === '';
  if (typeof value === 'boolean') return !value;
  if (value instanceof Uint8Array) return value.length === 0;
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const long = value as { low: number; high: number };
    return long.low === 0 && long.high === 0;
  }
  return false;
}
