// Proto3 JSON (what grpcurl and protojson write) → protobufjs message, strictly: unknown fields are errors.
import protobuf from 'protobufjs';
import { toStruct, toStructValue } from './struct.js';

/** google.protobuf wrapper types, whose proto3 JSON form is the bare value. */
export const WRAPPERS: ReadonlySet<string> = new Set([
  '.google.protobuf.BoolValue',
  '.google.protobuf.StringValue',
  '.google.protobuf.BytesValue',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.Int64Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.FloatValue',
  '.google.protobuf.DoubleValue',
]);

const LONG_TYPES: ReadonlySet<string> = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

export class ProtoJsonError extends Error {
  constructor(path: string, message: string) {
    super(`${path || '(root)'}: ${message}`);
    this.name = 'ProtoJsonError';
  }
}

/** Converts proto3 JSON into an encodable message of `type`. */
export function fromProtoJson(type: protobuf.Type, json: unknown): protobuf.Message {
  return type.fromObject(convertMessage(type, json, '') as Record<string, unknown>);
}

function convertMessage(type: protobuf.Type, json: unknown, path: string): unknown {
  const full = type.fullName;
  if (full === '.google.protobuf.Timestamp') return convertTimestamp(json, path);
  if (full === '.google.protobuf.Duration') return convertDuration(json, path);
  if (full === '.google.protobuf.Struct') return toStructObject(json, path);
  if (full === '.google.protobuf.Value') return toValueObject(json);
  if (full === '.google.protobuf.ListValue') return toListObject(json, path);
  if (WRAPPERS.has(full)) return { value: convertScalar(type.fields['value']!, json, path) };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ProtoJsonError(path, `expected an object for ${full.slice(1)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = fieldFor(type, key);
    if (!field) throw new ProtoJsonError(path, `unknown field "${key}" in ${full.slice(1)}`);
    if (value === null) continue;
    const converted = convertField(field, value, path ? `${path}.${key}` : key);
    // protobufjs would encode an explicit default; a proto3 encoder (Envoy's) leaves it out, so the input lacks it.
    if (isUnsetScalar(field, converted)) continue;
    out[field.name] = converted;
  }
  return out;
}

/** A proto3 scalar or enum without presence (not repeated, map, message or oneof member) holding its default. */
function isUnsetScalar(field: protobuf.Field, value: unknown): boolean {
  if (field.repeated || field.map || field.partOf || field.resolvedType instanceof protobuf.Type) return false;
  return value === 0 || value === '' || value === false || (value instanceof Uint8Array && value.length === 0);
}

/**
 * Proto3 JSON parsers accept a field's JSON name and the name declared in the .proto (`raw_body`), which
 * protobufjs stores camelCased. Own properties only, so "__proto__" or "constructor" are unknown fields.
 */
function fieldFor(type: protobuf.Type, key: string): protobuf.Field | undefined {
  const name = protobuf.util.camelCase(key);
  if (Object.hasOwn(type.fields, name)) return type.fields[name];
  return Object.values(type.fields).find((f) => jsonName(f) === key);
}

function jsonName(field: protobuf.Field): string {
  const declared = (field.options as Record<string, unknown> | undefined)?.['json_name'];
  if (typeof declared === 'string') return declared;
  return field.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function convertField(field: protobuf.Field, value: unknown, path: string): unknown {
  if (field instanceof protobuf.MapField) {
    if (typeof value !== 'object' || Array.isArray(value)) throw new ProtoJsonError(path, 'expected an object (map)');
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as object)) out[key] = convertSingle(field, item, `${path}.${key}`);
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) throw new ProtoJsonError(path, 'expected an array');
    return value.map((item, index) => convertSingle(field, item, `${path}[${index}]`));
  }
  return convertSingle(field, value, path);
}

function convertSingle(field: protobuf.Field, value: unknown, path: string): unknown {
  const resolved = field.resolve().resolvedType;
  if (resolved instanceof protobuf.Type) return convertMessage(resolved, value, path);
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value === 'string' && Object.hasOwn(resolved.values, value)) return resolved.values[value];
    throw new ProtoJsonError(path, `not a value of enum ${resolved.fullName.slice(1)}`);
  }
  return convertScalar(field, value, path);
}

function convertScalar(field: protobuf.Field, value: unknown, path: string): unknown {
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') throw new ProtoJsonError(path, 'expected a string');
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw new ProtoJsonError(path, 'expected a boolean');
      return value;
    case 'bytes':
      if (typeof value !== 'string') throw new ProtoJsonError(path, 'expected base64 text');
      return Buffer.from(value, 'base64');
    case 'double':
    case 'float':
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && !Number.isNaN(Number(value))) return Number(value);
      throw new ProtoJsonError(path, 'expected a number');
    default: {
      // integer types; 64-bit ones are strings in proto3 JSON, handed to protobufjs as they are (Long keeps every digit)
      if (LONG_TYPES.has(field.type) && typeof value === 'string' && /^-?[0-9]+$/.test(value)) return /^-?0+$/.test(value) ? 0 : value;
      const number = typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : value;
      if (typeof number !== 'number' || !Number.isInteger(number)) throw new ProtoJsonError(path, 'expected an integer');
      return number;
    }
  }
}

function convertTimestamp(value: unknown, path: string): unknown {
  if (typeof value !== 'string') throw new ProtoJsonError(path, 'expected an RFC 3339 timestamp');
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  const millis = match ? Date.parse(`${match[1]}${match[3]}`) : Number.NaN;
  if (!match || Number.isNaN(millis)) throw new ProtoJsonError(path, 'expected an RFC 3339 timestamp');
  const nanos = match[2] ? Number(match[2].padEnd(9, '0')) : 0;
  return withoutZeros(Math.floor(millis / 1000), nanos);
}

/** Timestamp and Duration fields have no presence: zeros are left out, as a proto3 encoder does. */
function withoutZeros(seconds: number, nanos: number): Record<string, number> {
  const out: Record<string, number> = {};
  if (seconds !== 0) out['seconds'] = seconds;
  if (nanos !== 0) out['nanos'] = nanos;
  return out;
}

function convertDuration(value: unknown, path: string): unknown {
  const match = typeof value === 'string' ? /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(value) : null;
  if (!match) throw new ProtoJsonError(path, 'expected a duration such as "1.5s"');
  const sign = match[1] ? -1 : 1;
  return withoutZeros(sign * Number(match[2]), sign * Number((match[3] ?? '').padEnd(9, '0')));
}

// The input is parsed JSON, so every value is a JSON value; the Struct shapes are response.ts's.
function toStructObject(value: unknown, path: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtoJsonError(path, 'expected an object (Struct)');
  }
  return toStruct(value as Record<string, unknown>);
}

function toListObject(value: unknown, path: string): unknown {
  if (!Array.isArray(value)) throw new ProtoJsonError(path, 'expected an array (ListValue)');
  return { values: value.map(toStructValue) };
}

function toValueObject(value: unknown): unknown {
  return toStructValue(value);
}
