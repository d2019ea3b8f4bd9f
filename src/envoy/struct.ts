// google.protobuf.Struct ↔ plain JSON, in the object form protobufjs encodes and decodes.
import type { Struct, StructValue } from './types.js';

/** Plain JSON → google.protobuf.Struct. */
export function toStruct(object: Record<string, unknown>): Struct {
  // A plain object (a prototype-less one is a slow dictionary to fill and for protobufjs to encode); a
  // "__proto__" key from the policy is defined as a field, not handed to the prototype setter.
  const fields: Record<string, StructValue> = {};
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (value === undefined) continue;
    if (key === '__proto__') Object.defineProperty(fields, key, { value: toStructValue(value), enumerable: true, writable: true, configurable: true });
    else fields[key] = toStructValue(value);
  }
  return { fields };
}

export function toStructValue(value: unknown): StructValue {
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'number':
      return { numberValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'object':
      if (value === null) return { nullValue: 0 };
      if (Array.isArray(value)) return { listValue: { values: value.map(toStructValue) } };
      return { structValue: toStruct(value as Record<string, unknown>) };
    default:
      return { nullValue: 0 };
  }
}

/** google.protobuf.Struct (as decoded) → plain JSON. */
export function fromStruct(struct: unknown): Record<string, unknown> {
  const result = Object.create(null) as Record<string, unknown>;
  const fields = (struct as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  for (const [key, value] of Object.entries(fields)) result[key] = fromStructValue(value);
  return result;
}

function fromStructValue(value: unknown): unknown {
  const v = (value ?? {}) as Record<string, unknown>;
  if ('stringValue' in v) return v['stringValue'];
  if ('numberValue' in v) return v['numberValue'];
  if ('boolValue' in v) return v['boolValue'];
  if ('structValue' in v) return fromStruct(v['structValue']);
  if ('listValue' in v) {
    const values = (v['listValue'] as { values?: unknown[] } | undefined)?.values ?? [];
    return values.map(fromStructValue);
  }
  return null;
}
