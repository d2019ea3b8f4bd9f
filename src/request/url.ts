// Go's net/url, as opa-envoy-plugin parses what Envoy forwards: the path's and the query's escapes, parsed_path, parsed_query.
import { CheckFailure } from '../errors.js';
import { decodeUtf8AsGo } from './utf8.js';

/** parsed_path: percent-decode (path semantics), strip every leading `/`, split on `/`. */
export function parsePath(path: string): string[] {
  return splitPath(unescapeOrFail(path, false, 'path'));
}

export function splitPath(decoded: string): string[] {
  let start = 0;
  while (start < decoded.length && decoded.charCodeAt(start) === 0x2f) start++;
  return decoded.slice(start).split('/');
}

export type Values = Record<string, string[]>;

// Go's url.ParseQuery refuses more `&`-separated settings than this (Go 1.24+ modules; urlmaxqueryparams).
const MAX_QUERY_PARAMS = 10_000;

/** Go's url.ParseQuery: values as arrays in order, `+` is a space, `;`, a bad escape or too many settings is an error. */
export function parseQuery(query: string): Values {
  const values: Values = Object.create(null) as Values;
  for (const [key, list] of queryValues(query)) values[key] = list;
  return values;
}

/**
 * `JSON.stringify(parseQuery(query))`, byte for byte, without the intermediate object (a prototype-less
 * object is a slow dictionary to build and to stringify): the keys in JSON.stringify's order, array
 * indexes ascending first, then the other keys in insertion order. With `names`, only those keys (the
 * whole query is still parsed, so its errors are the same).
 */
export function queryJson(query: string, names?: ReadonlySet<string>): string {
  const values = queryValues(query);
  if (names !== undefined) for (const key of values.keys()) if (!names.has(key)) values.delete(key);
  let keys: Iterable<string> = values.keys();
  let indexes: string[] | undefined;
  for (const key of values.keys()) if (isArrayIndex(key)) (indexes ??= []).push(key);
  if (indexes !== undefined) {
    indexes.sort((a, b) => Number(a) - Number(b));
    keys = [...indexes, ...[...values.keys()].filter((key) => !isArrayIndex(key))];
  }
  let json = '';
  for (const key of keys) json += (json === '' ? '{' : ',') + JSON.stringify(key) + ':' + JSON.stringify(values.get(key));
  return json === '' ? '{}' : json + '}';
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;
const MAX_ARRAY_INDEX = 2 ** 32 - 2;

/** A key that an object orders before all others (an ECMAScript array index). */
function isArrayIndex(key: string): boolean {
  return ARRAY_INDEX.test(key) && Number(key) <= MAX_ARRAY_INDEX;
}

function queryValues(query: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  const pairs = query.split('&');
  if (pairs.length > MAX_QUERY_PARAMS) throw new CheckFailure('request_parse_error', 'too many query parameters');
  for (const pair of pairs) {
    if (pair.includes(';')) throw new CheckFailure('request_parse_error', 'invalid semicolon separator in query');
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = unescapeOrFail(eq === -1 ? pair : pair.slice(0, eq), true, 'query');
    const value = eq === -1 ? '' : unescapeOrFail(pair.slice(eq + 1), true, 'query');
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }
  return values;
}

export function unescapeOrFail(text: string, plusIsSpace: boolean, what: string): string {
  const result = percentDecode(text, plusIsSpace);
  if (result === undefined) throw new CheckFailure('request_parse_error', `invalid URL escape in ${what}`);
  return result;
}

function isHex(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

/**
 * Go's url.PathUnescape / url.QueryUnescape: `%XX` becomes a byte (the bytes are read as UTF-8),
 * a `%` without two hex digits is an error (undefined), `+` becomes a space only in queries.
 */
export function percentDecode(text: string, plusIsSpace: boolean): string | undefined {
  const hasPercent = text.includes('%');
  if (!hasPercent && !(plusIsSpace && text.includes('+'))) return text;
  if (!hasPercent) return text.replaceAll('+', ' ');
  const input = Buffer.from(text, 'utf8');
  const output = Buffer.allocUnsafe(input.length);
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    if (byte === 0x25) {
      if (i + 2 >= input.length || !isHex(input[i + 1]!) || !isHex(input[i + 2]!)) return undefined;
      output[length++] = parseInt(String.fromCharCode(input[i + 1]!, input[i + 2]!), 16);
      i += 2;
    } else if (byte === 0x2b && plusIsSpace) {
      output[length++] = 0x20;
    } else {
      output[length++] = byte;
    }
  }
  return decodeUtf8AsGo(output, 0, length);
}
