// One comparable shape for both servers' answers: a flat record of named fields (absent = undefined), and
// the fields on which two answers differ.
import { isDeepStrictEqual } from 'node:util';
import { envoyRoot, structToJson, type Outcome } from './wire.js';

export type Fields = Record<string, unknown>;

/** The echo policy denies with this status and `json.marshal(input)` as the body. */
export const ECHO_STATUS = 203;

let statusNumbers: Map<string, number> | undefined;

function httpStatusNumber(code: unknown): number | string | undefined {
  if (code === undefined || typeof code === 'number') return code as number | undefined;
  statusNumbers ??= new Map(Object.entries(envoyRoot().lookupEnum('envoy.type.v3.StatusCode').values));
  return statusNumbers.get(String(code)) ?? String(code);
}

/** Header options sorted by key (stable, so the values of one key keep their order): Go maps and wasm objects both leave key order open. */
function headerFields(prefix: string, options: any[] | undefined, into: Fields): void {
  if (options === undefined || options.length === 0) return;
  const sorted = options.map((option, index) => ({ option, index })).sort((a, b) => {
    const [ka, kb] = [String(a.option.header?.key), String(b.option.header?.key)];
    return ka < kb ? -1 : ka > kb ? 1 : a.index - b.index;
  });
  into[prefix] = sorted.map(({ option }) => `${option.header?.key}: ${option.header?.value ?? ''}${option.header?.rawValue ? ` raw=${option.header.rawValue}` : ''}`);
  into[`${prefix}.append`] = sorted.map(({ option }) => {
    const append = option.append === undefined ? 'unset' : String(option.append.value ?? false);
    const extra = option.keepEmptyValue ? ' keep_empty_value' : '';
    return `${option.header?.key}: append=${append} append_action=${option.appendAction ?? 'unset'}${extra}`;
  });
}

function listField(name: string, list: unknown[] | undefined, into: Fields): void {
  if (list !== undefined && list.length > 0) into[name] = list;
}

/** CheckResponse (or RPC error) → Fields. With `echo`, a 203 deny's body is read as the input document. */
export function fieldsOf(outcome: Outcome, echo: boolean): Fields {
  const fields: Fields = {};
  if ('rpcError' in outcome) {
    fields['rpc_error'] = `${outcome.rpcError.code} ${outcome.rpcError.details}`;
    return fields;
  }
  const { status, deniedResponse, okResponse, dynamicMetadata, httpResponse: _unused, ...rest } = outcome.response;
  fields['status.code'] = status?.code ?? 0;
  if (status?.message) fields['status.message'] = status.message;
  if (status?.details?.length) fields['status.details'] = status.details;
  fields['http_response'] = deniedResponse ? 'denied_response' : okResponse ? 'ok_response' : 'none';
  if (deniedResponse) {
    fields['denied.status'] = httpStatusNumber(deniedResponse.status?.code) ?? '(no status)';
    headerFields('denied.headers', deniedResponse.headers, fields);
    const body: string | undefined = deniedResponse.body;
    if (echo && fields['denied.status'] === ECHO_STATUS && body !== undefined) {
      flattenInput(parseJsonExact(body) as Record<string, unknown>, fields);
    } else if (body) {
      fields['denied.body'] = body;
    }
  }
  if (okResponse) {
    const { headers, responseHeadersToAdd, headersToRemove, queryParametersToSet, queryParametersToRemove, ...other } = okResponse;
    headerFields('ok.headers', headers, fields);
    headerFields('ok.response_headers_to_add', responseHeadersToAdd, fields);
    listField('ok.headers_to_remove', headersToRemove, fields);
    listField('ok.query_parameters_to_set', (queryParametersToSet as any[] | undefined)?.map((p) => `${p.key}=${p.value}`).sort(), fields);
    listField('ok.query_parameters_to_remove', queryParametersToRemove, fields);
    if (Object.keys(other).length > 0) fields['ok.other'] = other;
  }
  const metadata = structToJson(dynamicMetadata);
  for (const [key, value] of Object.entries(metadata)) {
    if (key === 'decision_id') fields['decision_id'] = typeof value === 'string' && /^[0-9a-f-]{36}$/.test(value) ? '(a uuid)' : value;
    else fields[`dynamic_metadata.${key}`] = value;
  }
  for (const [key, value] of Object.entries(rest)) fields[`response.${key}`] = value;
  return fields;
}

/**
 * The input document key by key, down to the leaves (arrays and empty objects are leaves), so that one
 * differing value names its own field. meshwarden's identity blocks (source, destination, jwt) stay whole.
 */
function flattenInput(input: Record<string, unknown>, into: Fields): void {
  const walk = (path: string, value: unknown, depth: number): void => {
    const plain = typeof value === 'object' && value !== null && !Array.isArray(value) && !('(number)' in value);
    if (!plain || Object.keys(value as object).length === 0 || depth > 50) {
      into[path] = value;
      return;
    }
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) walk(`${path}.${key}`, child, depth + 1);
  };
  for (const [key, value] of Object.entries(input)) {
    if (['source', 'destination', 'jwt'].includes(key)) into[`input.${key}`] = value;
    else walk(`input.${key}`, value, 0);
  }
}

/** The names of the fields on which the two records differ, sorted. */
export function differingFields(a: Fields, b: Fields): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((name) => !isDeepStrictEqual(a[name], b[name])).sort();
}

/** JSON text with bigints (and undefined as "(absent)"), for messages. */
export function show(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return text.length > 400 ? `${text.slice(0, 400)}…(${text.length} chars)` : text;
}

// ---------------------------------------------------------------------------------------------------------
// JSON with exact numbers: integers become bigint, so 2^53+1 stays 9007199254740993n on both sides, and
// other numbers keep their text as {"(number)": "1.50"} (so 1.5 and 1.50 differ, as their texts do).

export function parseJsonExact(text: string): unknown {
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`bad JSON at ${at}: ${what}: ${text.slice(Math.max(0, at - 20), at + 20)}`);
  };
  const space = (): void => {
    while (at < text.length && ' \t\n\r'.includes(text[at]!)) at++;
  };
  const value = (): unknown => {
    space();
    const c = text[at];
    if (c === '{') {
      at++;
      const object: Record<string, unknown> = {};
      space();
      if (text[at] === '}') return at++, object;
      for (;;) {
        space();
        const key = string();
        space();
        if (text[at++] !== ':') fail('expected :');
        object[key] = value();
        space();
        const next = text[at++];
        if (next === '}') return object;
        if (next !== ',') fail('expected , or }');
      }
    }
    if (c === '[') {
      at++;
      const array: unknown[] = [];
      space();
      if (text[at] === ']') return at++, array;
      for (;;) {
        array.push(value());
        space();
        const next = text[at++];
        if (next === ']') return array;
        if (next !== ',') fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    for (const [word, result] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, at)) return (at += word.length), result;
    }
    const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at, at + 1000));
    if (!match) fail('unexpected character');
    at += match![0].length;
    return match![1] === undefined && match![2] === undefined ? BigInt(match![0]) : { '(number)': match![0] };
  };
  const string = (): string => {
    if (text[at] !== '"') fail('expected a string');
    const start = at;
    at++;
    while (text[at] !== '"') {
      if (at >= text.length) fail('unterminated string');
      at += text[at] === '\\' ? 2 : 1;
    }
    at++;
    return JSON.parse(text.slice(start, at)) as string;
  };
  const result = value();
  space();
  if (at !== text.length) fail('trailing text');
  return result;
}
