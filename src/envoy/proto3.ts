// proto3 helpers over protobufjs messages.
import protobuf from 'protobufjs';

interface FieldPlan {
  /** proto3 scalars without presence: a zero value on the wire means "not set". */
  scalars: string[];
  /** fields holding messages (single, repeated or map values), walked in turn */
  messages: { name: string; type: protobuf.Type; kind: 'single' | 'list' | 'map' }[];
}

const plans = new Map<protobuf.Type, FieldPlan>();

function planFor(type: protobuf.Type): FieldPlan {
  let plan = plans.get(type);
  if (plan) return plan;
  plan = { scalars: [], messages: [] };
  plans.set(type, plan);
  for (const field of type.fieldsArray) {
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof protobuf.Type) {
      plan.messages.push({ name: field.name, type: resolved, kind: field.map ? 'map' : field.repeated ? 'list' : 'single' });
    } else if (!field.repeated && !field.map && !field.partOf) {
      plan.scalars.push(field.name);
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

/**
 * Removes proto3 zero values a client wrote explicitly (protobufjs-based clients do; Envoy does not), so
 * that only populated fields reach the input document, as opa-envoy-plugin renders it.
 */
export function stripDefaults(type: protobuf.Type, message: Record<string, unknown>): void {
  const plan = planFor(type);
  for (const name of plan.scalars) {
    if (Object.hasOwn(message, name) && isZero(message[name])) delete message[name];
  }
  for (const { name, type: child, kind } of plan.messages) {
    const value = message[name];
    if (value === undefined || value === null) continue;
    if (kind === 'single') stripDefaults(child, value as Record<string, unknown>);
    else for (const item of kind === 'list' ? (value as unknown[]) : Object.values(value as object)) stripDefaults(child, item as Record<string, unknown>);
  }
}
