// Strict proto3-JSON conversion for configuration files (Envoy bootstrap YAML, Istio mesh config), the way
// Envoy reads its own config: field names as declared (snake_case) or their JSON names, unknown fields
// and unknown enum names rejected, google.protobuf.Any resolved by its "@type" to a message of the loaded
// API and converted just as strictly. On top of that, a subset of the protoc-gen-validate rules the Envoy
// API annotates its fields with is enforced, oneofs must have at most one member set, and fields marked
// deprecated are reported.
//
// src/envoy/protojson.ts (fromProtoJson) does the same for CheckRequests but has no Any support, which a
// bootstrap needs at every `typed_config`; hence this test-only converter.
import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import protobuf from 'protobufjs';
import { WRAPPERS } from '../../../src/envoy/protojson.js';

export class StrictProtoError extends Error {
  constructor(path: string, message: string) {
    super(`${path || '(root)'}: ${message}`);
    this.name = 'StrictProtoError';
  }
}

export interface StrictConversion {
  /** The encodable protobufjs message. */
  message: protobuf.Message;
  /** Deprecated fields that are set (path and field). */
  deprecated: string[];
  /** Every "@type" met, in order. */
  anyTypes: string[];
}

/** Resolves an Any's type URL to a message type, loading its definition when needed. */
export type AnyResolver = (typeUrl: string) => protobuf.Type;


/** Types whose JSON form is not an object of fields; inside an Any they sit under "value". */
const SPECIAL_JSON = new Set([
  ...WRAPPERS,
  '.google.protobuf.Duration',
  '.google.protobuf.Timestamp',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
  '.google.protobuf.FieldMask',
  '.google.protobuf.Any',
]);

export function strictFromJson(type: protobuf.Type, json: unknown, resolveAny?: AnyResolver): StrictConversion {
  const converter = new Converter(resolveAny);
  const object = converter.message(type, json, '');
  return { message: type.fromObject(object as Record<string, unknown>), deprecated: converter.deprecated, anyTypes: converter.anyTypes };
}

class Converter {
  readonly deprecated: string[] = [];
  readonly anyTypes: string[] = [];

  constructor(private readonly resolveAny: AnyResolver | undefined) {}

  message(type: protobuf.Type, json: unknown, path: string): unknown {
    const full = type.fullName;
    switch (full) {
      case '.google.protobuf.Any':
        return this.any(json, path);
      case '.google.protobuf.Duration':
        return duration(json, path);
      case '.google.protobuf.Timestamp':
        return timestamp(json, path);
      case '.google.protobuf.Struct':
        return struct(json, path);
      case '.google.protobuf.Value':
        return value(json, path);
      case '.google.protobuf.ListValue':
        return list(json, path);
      case '.google.protobuf.FieldMask':
        if (typeof json !== 'string') throw new StrictProtoError(path, 'expected a field mask string');
        return { paths: json === '' ? [] : json.split(',') };
    }
    if (WRAPPERS.has(full)) return { value: this.scalar(type.fields['value']!, json, path) };
    if (!isRecord(json)) throw new StrictProtoError(path, `expected an object for ${full.slice(1)}`);

    const out: Record<string, unknown> = {};
    const seen = new Map<string, string>();
    for (const [key, item] of Object.entries(json)) {
      const field = fieldFor(type, key);
      const where = join2(path, key);
      if (!field) throw new StrictProtoError(path, `unknown field "${key}" in ${full.slice(1)}`);
      const earlier = seen.get(field.name);
      if (earlier !== undefined) throw new StrictProtoError(path, `field ${field.name} given twice ("${earlier}" and "${key}")`);
      seen.set(field.name, key);
      if (item === null && field.resolve().resolvedType?.fullName !== '.google.protobuf.Value') continue;
      if (field.options?.['deprecated'] === true || field.options?.['(envoy.annotations.disallowed_by_default)'] === true) {
        this.deprecated.push(`${where} (${full.slice(1)}.${field.name})`);
      }
      out[field.name] = this.field(field, item, where);
    }

    for (const oneof of type.oneofsArray) {
      const set = oneof.fieldsArray.filter((f) => out[f.name] !== undefined);
      if (set.length > 1) {
        throw new StrictProtoError(path, `oneof ${oneof.name} has several members set: ${set.map((f) => f.name).join(', ')}`);
      }
      if (set.length === 0 && oneof.options?.['(validate.required)'] === true) {
        throw new StrictProtoError(path, `oneof ${oneof.name} is required (one of ${oneof.fieldsArray.map((f) => f.name).join(', ')})`);
      }
    }
    for (const field of type.fieldsArray) checkRules(field, out[field.name], join2(path, field.name));
    return out;
  }

  private any(json: unknown, path: string): unknown {
    if (!isRecord(json)) throw new StrictProtoError(path, 'expected an object with "@type" for google.protobuf.Any');
    const typeUrl = json['@type'];
    if (typeof typeUrl !== 'string' || !typeUrl.includes('/')) {
      throw new StrictProtoError(path, 'google.protobuf.Any needs "@type": "type.googleapis.com/<message>"');
    }
    if (!this.resolveAny) throw new StrictProtoError(path, `cannot resolve Any type ${typeUrl}`);
    let inner: protobuf.Type;
    try {
      inner = this.resolveAny(typeUrl);
    } catch (error) {
      throw new StrictProtoError(path, `unknown "@type" ${typeUrl}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.anyTypes.push(typeUrl);
    const { '@type': _ignored, ...rest } = json;
    let object: unknown;
    if (SPECIAL_JSON.has(inner.fullName)) {
      const extra = Object.keys(rest).filter((k) => k !== 'value');
      if (extra.length > 0) throw new StrictProtoError(path, `unknown field "${extra[0]}" in Any of ${inner.fullName.slice(1)}`);
      object = this.message(inner, rest['value'], join2(path, 'value'));
    } else {
      object = this.message(inner, rest, path);
    }
    const encoded = inner.encode(inner.fromObject(object as Record<string, unknown>)).finish();
    return { type_url: typeUrl, value: encoded };
  }

  private field(field: protobuf.Field, item: unknown, path: string): unknown {
    if (field instanceof protobuf.MapField) {
      if (!isRecord(item)) throw new StrictProtoError(path, 'expected an object (map)');
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(item)) {
        mapKey(field.keyType, key, `${path}.${key}`);
        out[key] = this.single(field, entry, `${path}.${key}`);
      }
      return out;
    }
    if (field.repeated) {
      if (!Array.isArray(item)) throw new StrictProtoError(path, 'expected an array');
      return item.map((entry, index) => this.single(field, entry, `${path}[${index}]`));
    }
    return this.single(field, item, path);
  }

  private single(field: protobuf.Field, item: unknown, path: string): unknown {
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof protobuf.Type) return this.message(resolved, item, path);
    if (resolved instanceof protobuf.Enum) {
      if (typeof item === 'string' && Object.hasOwn(resolved.values, item)) return resolved.values[item];
      if (typeof item === 'number' && Number.isInteger(item)) return item;
      throw new StrictProtoError(path, `"${String(item)}" is not a value of enum ${resolved.fullName.slice(1)}`);
    }
    return this.scalar(field, item, path);
  }

  scalar(field: protobuf.Field, item: unknown, path: string): unknown {
    return scalarValue(field.type, item, path);
  }
}

const INT_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

function scalarValue(type: string, item: unknown, path: string): unknown {
  switch (type) {
    case 'string':
      if (typeof item !== 'string') throw new StrictProtoError(path, `expected a string, got ${describe(item)}`);
      return item;
    case 'bool':
      if (typeof item !== 'boolean') throw new StrictProtoError(path, `expected a boolean, got ${describe(item)}`);
      return item;
    case 'bytes':
      if (typeof item !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(item)) throw new StrictProtoError(path, 'expected base64 text');
      return Buffer.from(item, 'base64');
    case 'double':
    case 'float':
      if (typeof item === 'number') return item;
      if (item === 'NaN' || item === 'Infinity' || item === '-Infinity') return Number(item);
      if (typeof item === 'string' && item.trim() !== '' && !Number.isNaN(Number(item))) return Number(item);
      throw new StrictProtoError(path, `expected a number, got ${describe(item)}`);
  }
  const range = INT_RANGES[type];
  if (!range) throw new StrictProtoError(path, `unsupported scalar type ${type}`);
  let big: bigint;
  if (typeof item === 'number' && Number.isInteger(item)) big = BigInt(item);
  else if (typeof item === 'string' && /^-?[0-9]+$/.test(item)) big = BigInt(item);
  else throw new StrictProtoError(path, `expected an integer (${type}), got ${describe(item)}`);
  if (big < range[0] || big > range[1]) throw new StrictProtoError(path, `${big} is out of range for ${type}`);
  return type.endsWith('64') ? big.toString() : Number(big);
}

function mapKey(keyType: string, key: string, path: string): void {
  if (keyType === 'string') return;
  if (keyType === 'bool') {
    if (key !== 'true' && key !== 'false') throw new StrictProtoError(path, 'expected a boolean map key');
    return;
  }
  scalarValue(keyType, key, path);
}

// --- protoc-gen-validate rules (the subset the Envoy API uses on the fields of a typical bootstrap) ---

function checkRules(field: protobuf.Field, value: unknown, path: string): void {
  const rules = validateRules(field);
  if (rules.size === 0) return;
  const present = value !== undefined;
  // Rules of a oneof member apply only to the member that is set.
  if (field.partOf && !present) return;
  if ((rules.get('message.required') === true || rules.get('duration.required') === true || rules.get('any.required') === true) && !present) {
    throw new StrictProtoError(path, 'is required');
  }
  if (field instanceof protobuf.MapField) {
    const entries = present ? Object.keys(value as object) : [];
    const minPairs = rules.get('map.min_pairs');
    if (typeof minPairs === 'number' && entries.length < minPairs) throw new StrictProtoError(path, `needs at least ${minPairs} entries`);
    for (const key of entries) applyRules(scoped(rules, 'map.keys.'), 'string', key, `${path}.${key}`);
    return;
  }
  if (field.repeated) {
    const items = present ? (value as unknown[]) : [];
    const min = rules.get('repeated.min_items');
    const max = rules.get('repeated.max_items');
    if (typeof min === 'number' && items.length < min) throw new StrictProtoError(path, `needs at least ${min} items`);
    if (typeof max === 'number' && items.length > max) throw new StrictProtoError(path, `allows at most ${max} items`);
    if (rules.get('repeated.unique') === true && new Set(items.map((i) => JSON.stringify(i))).size !== items.length) {
      throw new StrictProtoError(path, 'items must be unique');
    }
    const itemRules = scoped(rules, 'repeated.items.');
    items.forEach((item, index) => applyRules(itemRules, kindOf(field), item, `${path}[${index}]`, enumOf(field)));
    return;
  }
  // Scalars without presence are validated with their default when absent (as PGV does); messages
  // and oneof members only when set.
  const kind = kindOf(field);
  if (!present && (kind === 'message' || field.partOf)) return;
  applyRules(rules, kind, present ? value : defaultOf(field), path, enumOf(field));
}

function applyRules(rules: Map<string, unknown>, kind: string, value: unknown, path: string, enumType?: protobuf.Enum): void {
  for (const [rule, expected] of rules) {
    const [group, name, ...rest] = rule.split('.');
    if (group === 'string' && kind === 'string') checkString(name!, expected, value as string, rules, path);
    else if (group === 'enum' && kind === 'enum' && enumType) {
      if (name === 'defined_only' && expected === true && !Object.values(enumType.values).includes(value as number)) {
        throw new StrictProtoError(path, `${String(value)} is not a defined value of ${enumType.fullName.slice(1)}`);
      }
      if (name === 'not_in' && (Array.isArray(expected) ? expected : [expected]).includes(value)) {
        throw new StrictProtoError(path, `${String(value)} is not allowed here`);
      }
    } else if (group === 'duration' && kind === 'message' && rest.length > 0 && value !== undefined) {
      checkBound(name!, durationNanos(value), boundNanos(rules, `duration.${name}`), path);
    } else if (['uint32', 'uint64', 'int32', 'int64', 'double', 'float'].includes(group!) && rest.length === 0) {
      if (['gt', 'gte', 'lt', 'lte'].includes(name!)) checkBound(name!, Number(value), Number(expected), path);
      if (name === 'const' && Number(value) !== Number(expected)) throw new StrictProtoError(path, `must be ${expected}`);
    } else if (group === 'bool' && name === 'const' && value !== expected) {
      throw new StrictProtoError(path, `must be ${String(expected)}`);
    }
  }
}

function checkString(name: string, expected: unknown, value: string, rules: Map<string, unknown>, path: string): void {
  if (rules.get('string.ignore_empty') === true && value === '') return;
  const chars = [...value].length;
  const bytes = Buffer.byteLength(value);
  switch (name) {
    case 'min_len':
      if (chars < Number(expected)) throw new StrictProtoError(path, `must be at least ${expected} characters`);
      break;
    case 'max_len':
      if (chars > Number(expected)) throw new StrictProtoError(path, `must be at most ${expected} characters`);
      break;
    case 'min_bytes':
      if (bytes < Number(expected)) throw new StrictProtoError(path, `must be at least ${expected} bytes`);
      break;
    case 'max_bytes':
      if (bytes > Number(expected)) throw new StrictProtoError(path, `must be at most ${expected} bytes`);
      break;
    case 'prefix':
      if (!value.startsWith(String(expected))) throw new StrictProtoError(path, `must start with ${expected}`);
      break;
    case 'pattern':
      if (!new RegExp(String(expected), 'u').test(value)) throw new StrictProtoError(path, `must match ${expected}`);
      break;
    case 'in': {
      const allowed = Array.isArray(expected) ? expected : [expected];
      if (!allowed.includes(value)) throw new StrictProtoError(path, `must be one of ${allowed.join(', ')}`);
      break;
    }
    case 'well_known_regex':
      checkWellKnown(String(expected), rules.get('string.strict') !== false, value, path);
      break;
  }
}

/** PGV's HTTP header regexes (validate.proto KnownRegex), strict and loose forms. */
function checkWellKnown(which: string, strict: boolean, value: string, path: string): void {
  const loose = /^[^\u0000\n\r]*$/u;
  const patterns: Record<string, RegExp> = {
    HTTP_HEADER_NAME: strict ? /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/u : loose,
    HTTP_HEADER_VALUE: strict ? /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/u : loose,
  };
  const pattern = patterns[which];
  if (pattern && !pattern.test(value)) throw new StrictProtoError(path, `is not a valid ${which}`);
}

function checkBound(op: string, actual: number | bigint, bound: number | bigint, path: string): void {
  const ok = op === 'gt' ? actual > bound : op === 'gte' ? actual >= bound : op === 'lt' ? actual < bound : actual <= bound;
  const words: Record<string, string> = { gt: 'greater than', gte: 'at least', lt: 'less than', lte: 'at most' };
  if (!ok) throw new StrictProtoError(path, `must be ${words[op]} ${bound}`);
}

function boundNanos(rules: Map<string, unknown>, prefix: string): bigint {
  const seconds = BigInt(Number(rules.get(`${prefix}.seconds`) ?? 0));
  const nanos = BigInt(Number(rules.get(`${prefix}.nanos`) ?? 0));
  return seconds * 1_000_000_000n + nanos;
}

function durationNanos(value: unknown): bigint {
  const { seconds = 0, nanos = 0 } = value as { seconds?: number | string; nanos?: number };
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}

function validateRules(field: protobuf.Field): Map<string, unknown> {
  const rules = new Map<string, unknown>();
  for (const [key, expected] of Object.entries(field.options ?? {})) {
    if (key.startsWith('(validate.rules).')) rules.set(key.slice('(validate.rules).'.length), expected);
  }
  return rules;
}

function scoped(rules: Map<string, unknown>, prefix: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, expected] of rules) if (key.startsWith(prefix)) out.set(key.slice(prefix.length), expected);
  return out;
}

function kindOf(field: protobuf.Field): string {
  const resolved = field.resolve().resolvedType;
  if (resolved instanceof protobuf.Type) return 'message';
  if (resolved instanceof protobuf.Enum) return 'enum';
  return field.type === 'string' ? 'string' : field.type;
}

function enumOf(field: protobuf.Field): protobuf.Enum | undefined {
  const resolved = field.resolve().resolvedType;
  return resolved instanceof protobuf.Enum ? resolved : undefined;
}

function defaultOf(field: protobuf.Field): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) return 0;
  if (field.type === 'string') return '';
  if (field.type === 'bool') return false;
  if (field.type === 'bytes') return new Uint8Array();
  return 0;
}

// --- well-known types ---

function duration(json: unknown, path: string): unknown {
  const match = typeof json === 'string' ? /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
  if (!match) throw new StrictProtoError(path, `expected a duration such as "0.25s", got ${describe(json)}`);
  const sign = match[1] ? -1 : 1;
  const seconds = sign * Number(match[2]);
  const nanos = sign * Number((match[3] ?? '').padEnd(9, '0'));
  if (Math.abs(seconds) > 315_576_000_000) throw new StrictProtoError(path, 'duration out of range');
  return { seconds, nanos };
}

function timestamp(json: unknown, path: string): unknown {
  const match = typeof json === 'string' ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(json) : null;
  const millis = match ? Date.parse(`${match[1]}${match[3]}`) : Number.NaN;
  if (!match || Number.isNaN(millis)) throw new StrictProtoError(path, 'expected an RFC 3339 timestamp');
  return { seconds: Math.floor(millis / 1000), nanos: Number((match[2] ?? '').padEnd(9, '0')) };
}

function struct(json: unknown, path: string): unknown {
  if (!isRecord(json)) throw new StrictProtoError(path, 'expected an object (Struct)');
  const fields: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(json)) fields[key] = value(item, `${path}.${key}`);
  return { fields };
}

function list(json: unknown, path: string): unknown {
  if (!Array.isArray(json)) throw new StrictProtoError(path, 'expected an array (ListValue)');
  return { values: json.map((item, index) => value(item, `${path}[${index}]`)) };
}

function value(json: unknown, path: string): unknown {
  if (json === null) return { nullValue: 0 };
  switch (typeof json) {
    case 'string':
      return { stringValue: json };
    case 'number':
      return { numberValue: json };
    case 'boolean':
      return { boolValue: json };
    case 'object':
      return Array.isArray(json) ? { listValue: list(json, path) } : { structValue: struct(json, path) };
    default:
      throw new StrictProtoError(path, 'not a JSON value');
  }
}

// --- field lookup ---

/** A field by its declared name or its JSON name (proto3 JSON parsers accept both). */
function fieldFor(type: protobuf.Type, key: string): protobuf.Field | undefined {
  if (Object.hasOwn(type.fields, key)) return type.fields[key];
  return type.fieldsArray.find((f) => jsonName(f) === key);
}

function jsonName(field: protobuf.Field): string {
  const declared = field.options?.['json_name'];
  if (typeof declared === 'string') return declared;
  return field.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function join2(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `${typeof value} ${JSON.stringify(value)}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// --- loading the Envoy API ---

/**
 * A protobufjs root over the given include directories that loads, on demand, the package directory
 * of any type an Any names (e.g. envoy/extensions/filters/http/router/v3/ for ...router.v3.Router).
 * Field names stay as declared (keepCase), as in Envoy's YAML.
 */
export class ProtoLibrary {
  readonly root = new protobuf.Root();
  private readonly loadedDirs = new Set<string>();

  constructor(private readonly includeDirs: string[]) {
    this.root.resolvePath = (_origin: string, target: string): string => {
      if (isAbsolute(target)) return target;
      for (const dir of includeDirs) {
        const candidate = join(dir, target);
        if (existsSync(candidate)) return candidate;
      }
      return target; // google/protobuf/* come with protobufjs
    };
  }

  load(files: string[]): void {
    this.root.loadSync(files, { keepCase: true });
    this.root.resolveAll();
  }

  type(name: string): protobuf.Type {
    return this.root.lookupType(name);
  }

  /** An AnyResolver: finds the type, loading the .proto files of its package directory if needed. */
  readonly resolveAny: AnyResolver = (typeUrl) => {
    const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    const found = this.lookup(name);
    if (found) return found;
    const parts = name.split('.');
    for (let cut = parts.length - 1; cut > 0; cut--) {
      const rel = parts.slice(0, cut).join('/');
      for (const dir of this.includeDirs) {
        const candidate = join(dir, rel);
        if (!existsSync(candidate) || this.loadedDirs.has(candidate)) continue;
        const protos = readdirSync(candidate).filter((f) => f.endsWith('.proto'));
        if (protos.length === 0) continue;
        this.loadedDirs.add(candidate);
        this.load(protos.map((f) => join(rel, f)));
        const loaded = this.lookup(name);
        if (loaded) return loaded;
      }
    }
    throw new Error(`no message ${name} in the API`);
  };

  private lookup(name: string): protobuf.Type | undefined {
    const found = this.root.lookup(name);
    return found instanceof protobuf.Type ? found : undefined;
  }
}
