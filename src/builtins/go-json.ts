// Go's encoding/json text for values OPA marshals (keys sorted, <, >, & and U+2028/9 escaped), and Go-ish parsing.
import { fail } from './builtin.js';

/** json.Marshal of the Go value ast.JSON gives: maps sorted by key, HTML-safe escapes. */
export function goJsonMarshal(value: unknown): string {
  return escapeHtml(JSON.stringify(sortKeys(value)));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

export function escapeHtml(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** json.Unmarshal into any (OPA's util.UnmarshalJSON): one JSON value, nothing after it. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    fail(`invalid JSON: ${(error as Error).message}`);
  }
}
