// proto3 helpers over protobufjs messages.
import protobuf from 'protobufjs';

interface FieldPlan {
  /** proto3 scalars without presence: a zero value on the wire means "not set". */
  scalars: string[];
  /** 64-bit integer fields among them (protobufjs decodes them as Long; they may exceed 2^53). */
  longs: Set<string>;
  /** fields holding messages (single, repeated or map values), walked in turn */
  messages: { name: string; type: protobuf.Type; kind: 'single' | 'list' | 'map' }[];
}

const plans = new Map<protobuf.Type, FieldPlan>();

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** A 64-bit integer beyond 2^53, which a JavaScript number would round: where it is and its exact digits. */
export interface WideInteger {
  /** Field names (camelCase, as toObject writes them), map keys and list indexes from the message's root. */
  path: (string | number)[];
  digits: string;
}

interface LongValue {
  low: number;
  high: number;
  unsigned?: boolean;
  toString(): string;
}

function planFor(type: protobuf.Type): FieldPlan {
  let plan = plans.get(type);
  if (plan) return plan;
  plan = { scalars: [], longs: new Set(), messages: [] };
  plans.set(type, plan);
  for (const field of type.fieldsArray) {
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof protobuf.Type) {
      plan.messages.push({ name: field.name, type: resolved, kind: field.map ? 'map' : field.repeated ? 'list' : 'single' });
    } else if (!field.repeated && !field.map && !field.partOf) {
      plan.scalars.push(field.name);
      if (LONG_TYPES.has(field.type)) plan.longs.add(field.name);
    }
  }
  return plan;
}

function isZero(value: unknown): boolean {
  if (value === 0 || value === '' || value === false) return true;
  if (value instanceof Uint8Array) return value.length === 0;
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    return (value as { low: number; high: number }).low === 0 && (value as { low: number; high: number }).high === 0;
  }
  return false;
}

/** A Long outside ±2^53 (where a double stops holding every integer). */
function isWide(value: LongValue): boolean {
  const high = value.unsigned ? value.high >>> 0 : value.high;
  return high >= 0x200000 || high < -0x200000;
}

/**
 * Removes proto3 zero values a client wrote explicitly (protobufjs-based clients do; Envoy does not), so
 * that only populated fields reach the input document, as opa-envoy-plugin renders it; and, when `wide` is
 * given, adds to it every 64-bit integer field too large for a double (its place and its exact digits).
 */
export function stripDefaults(type: protobuf.Type, message: Record<string, unknown>, wide?: WideInteger[], path: (string | number)[] = []): void {
  const plan = planFor(type);
  for (const name of plan.scalars) {
    if (!Object.hasOwn(message, name)) continue;
    const value = message[name];
    if (isZero(value)) delete message[name];
    else if (wide !== undefined && plan.longs.has(name) && typeof value === 'object' && value !== null && isWide(value as LongValue)) {
      wide.push({ path: [...path, name], digits: (value as LongValue).toString() });
    }
  }
  for (const { name, type: child, kind } of plan.messages) {
    const value = message[name];
    if (value === undefined || value === null) continue;
    path.push(name);
    if (kind === 'single') stripDefaults(child, value as Record<string, unknown>, wide, path);
    else if (kind === 'list') (value as Record<string, unknown>[]).forEach((item, index) => walkItem(child, item, wide, path, index));
    else for (const key of Object.keys(value as object)) walkItem(child, (value as Record<string, Record<string, unknown>>)[key]!, wide, path, key);
    path.pop();
  }
}

function walkItem(type: protobuf.Type, item: Record<string, unknown>, wide: WideInteger[] | undefined, path: (string | number)[], key: string | number): void {
  path.push(key);
  stripDefaults(type, item, wide, path);
  path.pop();
}
