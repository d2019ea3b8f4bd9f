// What every builtin shares: the per-evaluation state, the error that makes a call undefined, argument checks.

/** State fixed for one policy evaluation, as OPA fixes it per query (time.now_ns, rand.intn, uuid.rfc4122). */
export interface Evaluation {
  /** Nanoseconds since the epoch, read once when the evaluation began. */
  readonly nowNs: bigint;
  /** Values cached for the rest of the evaluation, keyed by builtin and arguments. */
  readonly cache: Map<string, unknown>;
}

/** A host builtin: arguments are the JSON values opa-wasm dumped; the result goes back as JSON. */
export type Builtin = (evaluation: Evaluation, ...args: unknown[]) => unknown;

export type BuiltinTable = Readonly<Record<string, Builtin>>;

/**
 * A builtin error, as OPA's Go builtins return one: by default (non-strict, `opa eval` and opa-envoy-plugin)
 * it makes the call undefined. Anything else thrown is a bug and fails the evaluation.
 */
export class BuiltinError extends Error {
  readonly code = 'ERR_BUILTIN';
}

export function fail(message: string): never {
  throw new BuiltinError(message);
}

export type JsonObject = { [key: string]: unknown };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function stringArg(value: unknown, position: number): string {
  if (typeof value !== 'string') fail(`operand ${position} must be string`);
  return value;
}

export function numberArg(value: unknown, position: number): number {
  if (typeof value !== 'number') fail(`operand ${position} must be number`);
  return value;
}

/** builtins.IntOperand: a number with no fraction. */
export function intArg(value: unknown, position: number): number {
  const number = numberArg(value, position);
  if (!Number.isInteger(number)) fail(`operand ${position} must be integer number but got floating-point number`);
  return number;
}

export function objectArg(value: unknown, position: number): JsonObject {
  if (!isObject(value)) fail(`operand ${position} must be object`);
  return value;
}

export function arrayArg(value: unknown, position: number): unknown[] {
  if (!Array.isArray(value)) fail(`operand ${position} must be array`);
  return value;
}

/** Arrays and sets both arrive as JSON arrays (opa-wasm dumps a set as an array). */
export function collectionArg(value: unknown, position: number): unknown[] {
  if (!Array.isArray(value)) fail(`operand ${position} must be one of {array, set}`);
  return value;
}

/** Compares two JSON values in OPA's order (null < boolean < number < string < array < object). */
export function compareValues(a: unknown, b: unknown): number {
  const rank = (value: unknown): number => {
    if (value === null) return 0;
    if (typeof value === 'boolean') return 1;
    if (typeof value === 'number' || typeof value === 'bigint') return 2;
    if (typeof value === 'string') return 3;
    if (Array.isArray(value)) return 4;
    return 6;
  };
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (typeof a === 'boolean' || typeof a === 'number' || typeof a === 'bigint') {
    return a === b ? 0 : (a as number) < (b as number) ? -1 : 1;
  }
  if (typeof a === 'string') {
    const x = Buffer.from(a);
    const y = Buffer.from(b as string);
    return Buffer.compare(x, y);
  }
  if (Array.isArray(a)) {
    const other = b as unknown[];
    for (let i = 0; i < Math.min(a.length, other.length); i++) {
      const c = compareValues(a[i], other[i]);
      if (c !== 0) return c;
    }
    return a.length === other.length ? 0 : a.length < other.length ? -1 : 1;
  }
  if (a === null) return 0;
  const ka = Object.keys(a as JsonObject).sort(compareValues);
  const kb = Object.keys(b as JsonObject).sort(compareValues);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const c = compareValues(ka[i], kb[i]);
    if (c !== 0) return c;
    const v = compareValues((a as JsonObject)[ka[i]!], (b as JsonObject)[kb[i]!]);
    if (v !== 0) return v;
  }
  return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
}

/** Sorts and de-duplicates values the way a Rego set holds them. */
export function toSet(values: unknown[]): unknown[] {
  const sorted = [...values].sort(compareValues);
  return sorted.filter((value, index) => index === 0 || compareValues(sorted[index - 1], value) !== 0);
}
