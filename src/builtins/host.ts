// The host builtins handed to opa-wasm: one set per loaded policy, with per-evaluation state.
import { BuiltinError, type Evaluation } from './builtin.js';
import { takeOverOpaWasmBuiltins } from './opa-wasm-builtins.js';
import { PROVIDED_BUILTINS } from './table.js';

/** What opa-wasm's loadPolicy takes as its third argument. */
export type OpaWasmBuiltins = Record<string, (...args: unknown[]) => unknown>;

export interface HostBuiltins {
  /** Pass to opa-wasm: `loadPolicy(wasm, undefined, host.builtins)`. */
  readonly builtins: OpaWasmBuiltins;
  /** Call before each evaluation: fixes time.now_ns and empties the rand.intn and uuid.rfc4122 caches. */
  beginEvaluation(): void;
}

export interface HostBuiltinsOptions {
  /** The clock read once per evaluation for time.now_ns; defaults to the system clock in nanoseconds. */
  now?: () => bigint;
}

// The wall clock in nanoseconds: Date.now() anchors a monotonic high-resolution clock once.
const clockBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
const systemNow = (): bigint => clockBase + process.hrtime.bigint();

/** Builds the builtins for one loaded policy (its evaluations run one at a time, as opa-wasm's do). */
export function createHostBuiltins(options: HostBuiltinsOptions = {}): HostBuiltins {
  takeOverOpaWasmBuiltins(new Set(Object.keys(PROVIDED_BUILTINS)));
  const now = options.now ?? systemNow;
  let evaluation: Evaluation = { nowNs: now(), cache: new Map() };
  const builtins: OpaWasmBuiltins = {};
  for (const [name, implementation] of Object.entries(PROVIDED_BUILTINS)) {
    builtins[name] = (...args: unknown[]): unknown => {
      let result: unknown;
      try {
        result = implementation(evaluation, ...args);
      } catch (error) {
        if (error instanceof BuiltinError) return undefined;
        throw error;
      }
      return encodeResult(result);
    };
  }
  return Object.freeze({
    builtins: Object.freeze(builtins),
    beginEvaluation(): void {
      evaluation = { nowNs: now(), cache: new Map() };
    },
  });
}

/** The names of the builtins a module needs that are not provided here (refused, or unknown to us). */
export function unprovidedBuiltins(required: readonly string[]): string[] {
  return required.filter((name) => !Object.hasOwn(PROVIDED_BUILTINS, name)).sort();
}

/** The names of every builtin provided, sorted. */
export function providedBuiltinNames(): string[] {
  return Object.keys(PROVIDED_BUILTINS).sort();
}

const encoder = new TextEncoder();
const BIG_MARK = '\u0000big:';

/**
 * opa-wasm JSON.stringify's a result, unless it is an ArrayBuffer of JSON text: integers beyond 2^53 (time in
 * nanoseconds) are written as exact JSON numbers that way.
 */
function encodeResult(result: unknown): unknown {
  if (result === undefined) return undefined;
  if (!containsBigInt(result)) return result;
  const text = JSON.stringify(result, (_key, value: unknown) => (typeof value === 'bigint' ? `${BIG_MARK}${value}` : value));
  const exact = text.replace(/"\\u0000big:(-?\d+)"/g, '$1');
  return encoder.encode(exact).buffer;
}

function containsBigInt(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (Array.isArray(value)) return value.some(containsBigInt);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(containsBigInt);
  return false;
}

