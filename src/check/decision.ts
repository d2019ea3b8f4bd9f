// Pure: the policy's raw result set → a validated Decision (opa-envoy-plugin's decision contract, strictly typed).
import { STATUS_CODES } from 'node:http';
import { CheckFailure } from '../errors.js';

/** One header to set; `append` is false for the first value of a key and true for each later value. */
export interface HeaderMutation {
  key: string;
  value: string;
  append: boolean;
}

export interface Decision {
  allowed: boolean;
  /** A boolean decision sets nothing but the status; an object decision always yields an HTTP response. */
  fromObject: boolean;
  headers: HeaderMutation[];
  responseHeadersToAdd: HeaderMutation[];
  requestHeadersToRemove: string[];
  queryParametersToSet: { key: string; value: string }[];
  queryParametersToRemove: string[];
  body: string | undefined;
  httpStatus: number | undefined;
  dynamicMetadata: Record<string, unknown> | undefined;
}

function invalid(message: string): never {
  throw new CheckFailure('invalid_decision', message);
}

function forbidden(message: string): never {
  throw new CheckFailure('forbidden_mutation', message);
}

/** Turns opa-wasm's result set into a Decision; undefined, multiple or mistyped results throw CheckFailure. */
export function parseDecision(resultSet: unknown, validStatuses: ReadonlySet<number>): Decision {
  if (!Array.isArray(resultSet) || resultSet.length === 0) {
    throw new CheckFailure('undefined_decision', 'the decision is undefined');
  }
  if (resultSet.length > 1) {
    throw new CheckFailure('multiple_results', `the decision has ${resultSet.length} results`);
  }
  const first: unknown = resultSet[0];
  if (typeof first !== 'object' || first === null || !('result' in first)) {
    throw new CheckFailure('undefined_decision', 'the decision is undefined');
  }
  const result = (first as { result: unknown }).result;
  if (typeof result === 'boolean') return booleanDecision(result);
  if (!isPlainObject(result)) invalid(`the decision must be a boolean or an object, not ${typeName(result)}`);
  return objectDecision(result, validStatuses);
}

function booleanDecision(allowed: boolean): Decision {
  return {
    allowed,
    fromObject: false,
    headers: [],
    responseHeadersToAdd: [],
    requestHeadersToRemove: [],
    queryParametersToSet: [],
    queryParametersToRemove: [],
    body: undefined,
    httpStatus: undefined,
    dynamicMetadata: undefined,
  };
}

function objectDecision(result: Record<string, unknown>, validStatuses: ReadonlySet<number>): Decision {
  const allowed = result['allowed'];
  if (allowed === undefined) invalid('the decision object has no "allowed" key');
  if (typeof allowed !== 'boolean') invalid(`"allowed" must be a boolean, not ${typeName(allowed)}`);

  // Every recognised key is checked whichever way the decision went: a mistyped key is a policy bug.
  const headers = headerMutations(result['headers'], 'headers');
  const responseHeadersToAdd = headerMutations(result['response_headers_to_add'], 'response_headers_to_add');
  const requestHeadersToRemove = stringList(result['request_headers_to_remove'], 'request_headers_to_remove');
  const queryParametersToRemove = stringList(result['query_parameters_to_remove'], 'query_parameters_to_remove');
  const queryParametersToSet = queryParameters(result['query_parameters_to_set']);
  const body = result['body'];
  if (body !== undefined && typeof body !== 'string') invalid(`"body" must be a string, not ${typeName(body)}`);
  const httpStatus = result['http_status'];
  if (httpStatus !== undefined && !(typeof httpStatus === 'number' && isValidStatus(httpStatus, validStatuses))) {
    invalid(`"http_status" must be an HTTP status code Envoy accepts, not ${JSON.stringify(httpStatus)}`);
  }
  const dynamicMetadata = result['dynamic_metadata'];
  if (dynamicMetadata !== undefined && !isPlainObject(dynamicMetadata)) {
    invalid(`"dynamic_metadata" must be an object, not ${typeName(dynamicMetadata)}`);
  }

  for (const { key } of allowed ? headers : []) checkUpstreamHeader(key, 'headers');
  for (const key of requestHeadersToRemove) {
    // Named in a header of its own in HTTP mode (x-envoy-auth-headers-to-remove), so held to the same syntax.
    if (!TOKEN.test(key.startsWith(':') ? key.slice(1) : key)) forbidden(`request_headers_to_remove: ${JSON.stringify(key)} is not a valid HTTP header name`);
    checkUpstreamHeader(key, 'request_headers_to_remove');
  }
  for (const { key } of allowed ? responseHeadersToAdd : headers) checkClientHeader(key);
  for (const { key } of queryParametersToSet) if (key === '') invalid('a query parameter to set has an empty name');

  return {
    allowed,
    fromObject: true,
    headers,
    responseHeadersToAdd,
    requestHeadersToRemove,
    queryParametersToSet,
    queryParametersToRemove,
    body,
    httpStatus,
    dynamicMetadata,
  };
}

function isValidStatus(code: number, validStatuses: ReadonlySet<number>): boolean {
  return Number.isInteger(code) && validStatuses.has(code) && STATUS_CODES[code] !== undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** An object of string or string-array values, or an array of such objects (opa-envoy-plugin's forms). */
function headerMutations(value: unknown, name: string): HeaderMutation[] {
  if (value === undefined) return [];
  const objects = Array.isArray(value) ? value : [value];
  const mutations: HeaderMutation[] = [];
  const seen = new Set<string>();
  for (const object of objects) {
    if (!isPlainObject(object)) invalid(`"${name}" must be an object or an array of objects`);
    for (const [key, raw] of Object.entries(object)) {
      const values = typeof raw === 'string' ? [raw] : raw;
      if (!Array.isArray(values) || !values.every((item) => typeof item === 'string')) {
        invalid(`"${name}.${key}" must be a string or an array of strings`);
      }
      checkHeaderSyntax(key, values as string[]);
      const lower = key.toLowerCase();
      for (const item of values as string[]) {
        mutations.push({ key, value: item, append: seen.has(lower) });
        seen.add(lower);
      }
    }
  }
  return mutations;
}

function stringList(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    invalid(`"${name}" must be an array of strings`);
  }
  return value as string[];
}

function queryParameters(value: unknown): { key: string; value: string }[] {
  if (value === undefined) return [];
  if (!isPlainObject(value)) invalid('"query_parameters_to_set" must be an object');
  const parameters: { key: string; value: string }[] = [];
  for (const [key, raw] of Object.entries(value)) {
    const values = typeof raw === 'string' ? [raw] : raw;
    if (!Array.isArray(values) || !values.every((item) => typeof item === 'string')) {
      invalid(`"query_parameters_to_set.${key}" must be a string or an array of strings`);
    }
    for (const item of values as string[]) parameters.push({ key, value: item });
  }
  return parameters;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * The one rule for header values in both modes: visible ASCII, space and tab (RFC 9110 §5.5 field-value
 * without obs-text). CR, LF and NUL would split or end a header (Envoy rejects them under validate_mutations);
 * other control characters are refused by HTTP/2 (nghttp2); a character above U+00FF cannot be written by
 * Node's HTTP server at all (HTTP mode), and one from U+0080 reaches Envoy as different bytes in the two
 * modes (UTF-8 over gRPC, Latin-1 over HTTP). A policy that copies request data into a header is denied
 * with forbidden_mutation for such a value, never answered with bytes that differ by listener.
 */
const BAD_VALUE = /[^\t\x20-\x7e]/;

function checkHeaderSyntax(key: string, values: string[]): void {
  const name = key.startsWith(':') ? key.slice(1) : key;
  if (!TOKEN.test(name)) forbidden(`header name ${JSON.stringify(key)} is not a valid HTTP header name`);
  for (const value of values) {
    if (BAD_VALUE.test(value)) forbidden(`header ${JSON.stringify(key)} has a value with a character other than visible ASCII, space or tab`);
  }
}

/** Headers sent upstream: Envoy refuses (or 500s on) pseudo-headers, host and x-envoy-*. */
function checkUpstreamHeader(key: string, field: string): void {
  const lower = key.toLowerCase();
  if (lower.startsWith(':') || lower === 'host' || lower.startsWith('x-envoy-')) {
    forbidden(`"${field}" may not touch ${JSON.stringify(key)}`);
  }
}

/** Headers sent to the client: no pseudo-headers. */
function checkClientHeader(key: string): void {
  if (key.startsWith(':')) forbidden(`response header ${JSON.stringify(key)} is a pseudo-header`);
}
