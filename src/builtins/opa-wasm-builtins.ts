// Takes opa-wasm's own JS builtins out of its dispatch, so that ours (with Go's semantics) are the ones called.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * opa-wasm's `_builtinCall` looks a builtin up in its own table (src/builtins/index.js) before the custom
 * ones, so its sprintf (sprintf-js), regex.split (JS RegExp) and yaml.* would win over ours. That table is the
 * exported object of a CommonJS module; requiring the same absolute path reaches the same require-cache entry
 * opa.js uses. These are the names opa-wasm 1.10.0 defines; anything else there means its internals changed,
 * and we refuse to guess (the test in test/unit/builtins/opa-wasm-builtins.test.ts fails too).
 */
export const OPA_WASM_OWN_BUILTINS: readonly string[] = [
  'json.is_valid',
  'regex.split',
  'sprintf',
  'yaml.is_valid',
  'yaml.marshal',
  'yaml.unmarshal',
];

const require = createRequire(import.meta.url);

/** The object opa-wasm dispatches its own builtins from. */
export function opaWasmBuiltinTable(): Record<string, unknown> {
  const entry = require.resolve('@open-policy-agent/opa-wasm');
  const table = require(join(dirname(entry), 'builtins', 'index.js')) as unknown;
  if (typeof table !== 'object' || table === null) {
    throw new Error('@open-policy-agent/opa-wasm: src/builtins/index.js is no longer an object of builtins');
  }
  return table as Record<string, unknown>;
}

let takenOver = false;

/**
 * Removes from opa-wasm's table every builtin we provide (once per process). Throws if the table holds names
 * other than those known, so an opa-wasm upgrade that changes them cannot silently shadow ours.
 */
export function takeOverOpaWasmBuiltins(provided: ReadonlySet<string>): void {
  if (takenOver) return;
  const table = opaWasmBuiltinTable();
  const unknown = Object.keys(table).filter((name) => !OPA_WASM_OWN_BUILTINS.includes(name));
  if (unknown.length > 0) {
    throw new Error(`@open-policy-agent/opa-wasm defines builtins this version of meshwarden does not know: ${unknown.join(', ')}`);
  }
  for (const name of Object.keys(table)) {
    if (provided.has(name)) delete table[name];
  }
  takenOver = true;
}
