// Pure: decoded CheckRequest attributes → the policy input document, as JSON text for the wasm module.
// Shape and parsing follow opa-envoy-plugin's v3 input (envoyauth/request.go) so its policies run unchanged.
import { CheckFailure } from '../errors.js';
import { parseGrpcBody, type GrpcBodyDecoder } from '../request/grpc-body.js';
import { parseMediaType, parseMultipart } from '../request/multipart.js';

/** CheckRequest.attributes as decoded (see CONVERSION_OPTIONS in protos.ts). */
export interface Attributes {
  source?: Peer;
  destination?: Peer;
  request?: { time?: { seconds?: number; nanos?: number }; http?: HttpRequest };
  contextExtensions?: Record<string, string>;
  metadataContext?: unknown;
  routeMetadataContext?: unknown;
  tlsSession?: { sni?: string };
  [key: string]: unknown;
}

export interface Peer {
  address?: { socketAddress?: { address?: string; portValue?: number; [key: string]: unknown }; [key: string]: unknown };
  service?: string;
  labels?: Record<string, string>;
  principal?: string;
  certificate?: string;
}

export interface HttpRequest {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  path?: string;
  host?: string;
  scheme?: string;
  query?: string;
  fragment?: string;
  size?: number;
  protocol?: string;
  body?: string;
  /** base64, as rendered by the decoder */
  rawBody?: string;
  headerMap?: unknown;
}

/**
 * The document the rules library is given instead of the full one (policies/rules/README.md, "Input"): only
 * the keys authz.rego reads and, of the headers, query parameters and context extensions, `:authority` and
 * the names its rules' `when` conditions test. Its wasm parses every byte of the input on every Check, so a
 * smaller document is a cheaper one. What is checked and denied before the policy runs (path, query and
 * body parsing) is the same as with the full document.
 */
export interface RulesInput {
  /** Header names, lowercase (the rules library looks headers up lowercased). */
  readonly headers: ReadonlySet<string>;
  readonly query: ReadonlySet<string>;
  readonly context: ReadonlySet<string>;
}

export interface InputOptions {
  /** opa-envoy-plugin's skip-request-body-parse: leave parsed_body and truncated_body out. */
  skipBodyParse: boolean;
  /** opa-envoy-plugin's proto-descriptor: parses application/grpc bodies (src/grpc-body.ts); off when undefined. */
  grpcDescriptor?: GrpcBodyDecoder | undefined;
  /** Build the rules library's document; the full document when not set. */
  rules?: RulesInput | undefined;
}

export interface BuiltInput {
  /** The whole input document as JSON text (big integers in JSON bodies keep their digits). */
  json: string;
  /** The path without its query, for the decision log. */
  pathOnly: string;
}

const VERSION_JSON = '{"ext_authz":"v3","encoding":"protojson"}';

/** meshwarden's additions to the opa-envoy-plugin document: the peers' identities (src/identity.ts), input.jwt (src/jwt.ts). */
export interface InputExtensions {
  source: unknown;
  destination: unknown;
  /** The bearer token's verdict; the key is left out when no token was sent (or none is configured). */
  jwt?: unknown;
}

/** Builds the input document; throws CheckFailure('request_parse_error') where opa-envoy-plugin answers 400. */
export function buildInput(attributes: Attributes, options: InputOptions, extensions?: InputExtensions): BuiltInput {
  const http = attributes.request?.http;
  const rawPath = http?.path ?? '';
  const queryAt = rawPath.indexOf('?');
  const pathOnly = queryAt === -1 ? rawPath : rawPath.slice(0, queryAt);
  const decodedPath = unescapeOrFail(pathOnly, false, 'path');
  const rules = options.rules;
  const parsedQueryJson = queryAt === -1 ? '{}' : queryJson(rawPath.slice(queryAt + 1), rules?.query);
  if (rules !== undefined) {
    // The same parse errors as the full document, so a request is denied before the policy alike.
    if (!options.skipBodyParse) parseBody(http, options.grpcDescriptor && { decoder: options.grpcDescriptor, parsedPath: splitPath(decodedPath) });
    return { json: rulesInputJson(attributes, rules, parsedQueryJson, extensions), pathOnly };
  }
  const parsedPath = splitPath(decodedPath);

  let json =
    '{"attributes":' +
    JSON.stringify(attributes) +
    ',"version":' +
    VERSION_JSON +
    ',"parsed_path":' +
    JSON.stringify(parsedPath) +
    ',"parsed_query":' +
    parsedQueryJson;
  if (!options.skipBodyParse) {
    const body = parseBody(http, options.grpcDescriptor && { decoder: options.grpcDescriptor, parsedPath });
    json += ',"parsed_body":' + body.json + ',"truncated_body":' + (body.truncated ? 'true' : 'false');
  }
  const principal = attributes.source?.principal;
  if (principal) json += ',"source_principal":' + JSON.stringify(principal);
  if (extensions) {
    json += ',"source":' + JSON.stringify(extensions.source) + ',"destination":' + JSON.stringify(extensions.destination);
    if (extensions.jwt !== undefined) json += ',"jwt":' + JSON.stringify(extensions.jwt);
  }
  return { json: json + '}', pathOnly };
}

/**
 * The rules library's document: the keys policies/rules/authz.rego reads, in the full document's places
 * (test/unit/rules-input.test.ts checks every `input.` reference of the Rego against it).
 */
function rulesInputJson(attributes: Attributes, rules: RulesInput, parsedQueryJson: string, extensions: InputExtensions | undefined): string {
  const http = attributes.request?.http;
  let request = '';
  if (http !== undefined) {
    let fields = '';
    if (http.method !== undefined) fields += ',"method":' + JSON.stringify(http.method);
    if (http.path !== undefined) fields += ',"path":' + JSON.stringify(http.path);
    if (http.host !== undefined) fields += ',"host":' + JSON.stringify(http.host);
    if (http.headers !== undefined) fields += ',"headers":' + pickJson(http.headers, rules.headers);
    request = '"request":{"http":{' + fields.slice(1) + '}}';
  }
  const extensionsOf = attributes.contextExtensions;
  const context = extensionsOf === undefined ? '' : '"contextExtensions":' + pickJson(extensionsOf, rules.context);
  let json = '{"attributes":{' + request + (request !== '' && context !== '' ? ',' : '') + context + '},"parsed_query":' + parsedQueryJson;
  if (extensions) {
    json += ',"source":' + rulesPeerJson(extensions.source as RulesPeer) + ',"destination":' + rulesPeerJson(extensions.destination as RulesPeer);
    if (extensions.jwt !== undefined) json += ',"jwt":' + JSON.stringify(extensions.jwt);
  }
  return json + '}';
}

// Up to this many names, each is looked up; a file naming more has the request's entries looked up instead.
const FEW_NAMES = 16;

/** JSON of the entries of `values` named in `names` (own entries only, so `__proto__` is just a name). */
function pickJson(values: Record<string, string>, names: ReadonlySet<string>): string {
  let json = '';
  for (const name of names.size <= FEW_NAMES ? names : Object.keys(values)) {
    if (names.has(name) && Object.hasOwn(values, name)) json += (json === '' ? '{' : ',') + JSON.stringify(name) + ':' + JSON.stringify(values[name]);
  }
  return json === '' ? '{}' : json + '}';
}

/** The identity keys the rules library reads (src/identity.ts PeerIdentity has them all). */
interface RulesPeer {
  spiffe_id: string | null;
  trust_domain: string | null;
  namespace: string | null;
  service_account: string | null;
  local: boolean;
  authenticated: boolean;
  port: number | null;
}

/** `JSON.stringify` of those keys, without building the object first. */
function rulesPeerJson(peer: RulesPeer): string {
  return (
    '{"spiffe_id":' +
    JSON.stringify(peer.spiffe_id) +
    ',"trust_domain":' +
    JSON.stringify(peer.trust_domain) +
    ',"namespace":' +
    JSON.stringify(peer.namespace) +
    ',"service_account":' +
    JSON.stringify(peer.service_account) +
    ',"local":' +
    (peer.local ? 'true' : 'false') +
    ',"authenticated":' +
    (peer.authenticated ? 'true' : 'false') +
    ',"port":' +
    JSON.stringify(peer.port) +
    '}'
  );
}

/** parsed_path: percent-decode (path semantics), strip every leading `/`, split on `/`. */
export function parsePath(path: string): string[] {
  return splitPath(unescapeOrFail(path, false, 'path'));
}

function splitPath(decoded: string): string[] {
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

function unescapeOrFail(text: string, plusIsSpace: boolean, what: string): string {
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
  return output.toString('utf8', 0, length);
}

interface ParsedBody {
  /** JSON text of parsed_body */
  json: string;
  truncated: boolean;
}

const NO_BODY: ParsedBody = { json: 'null', truncated: false };
const TRUNCATED: ParsedBody = { json: 'null', truncated: true };

/** What a gRPC body needs: the descriptor's decoder and the request's parsed_path ([service, method]). */
export interface GrpcBodyContext {
  decoder: GrpcBodyDecoder;
  parsedPath: readonly string[];
}

/** parsed_body / truncated_body, in opa-envoy-plugin's order of checks. */
export function parseBody(http: HttpRequest | undefined, grpc?: GrpcBodyContext): ParsedBody {
  const headers = http?.headers;
  if (!headers) return NO_BODY;
  if (headers['x-envoy-auth-partial-body'] === 'true') return TRUNCATED;
  const contentType = headers['content-type'];
  if (contentType === undefined) return NO_BODY;

  const kind = contentType.includes('application/json')
    ? 'json'
    : contentType.includes('application/grpc')
      ? 'grpc'
      : contentType.includes('application/x-www-form-urlencoded')
        ? 'form'
        : contentType.includes('multipart/form-data')
          ? 'multipart'
          : undefined;
  if (kind === undefined) return NO_BODY;
  // gRPC has its own framing: only raw_body (pack_as_bytes) is read and content-length is not consulted.
  if (kind === 'grpc') return grpcBodyOf(http, grpc);

  const { text, byteLength } = bodyOf(http);
  if (text === '') return NO_BODY;
  if (isShorterThanDeclared(byteLength, headers['content-length'])) return TRUNCATED;

  switch (kind) {
    case 'json':
      try {
        JSON.parse(text);
      } catch (error) {
        throw new CheckFailure('request_parse_error', `invalid JSON body: ${(error as Error).message}`);
      }
      // The text itself goes to the policy, so integers beyond 2^53 keep every digit.
      return { json: text, truncated: false };
    case 'form':
      return { json: JSON.stringify(parseQuery(text)), truncated: false };
    case 'multipart': {
      const boundary = multipartBoundary(contentType);
      if (boundary === undefined) return NO_BODY;
      return { json: parseMultipart(text, boundary), truncated: false };
    }
  }
}

/** opa-envoy-plugin's getGRPCBody: null without a descriptor or raw_body; the path must be /Service/Method. */
function grpcBodyOf(http: HttpRequest | undefined, grpc: GrpcBodyContext | undefined): ParsedBody {
  if (grpc === undefined || !http?.rawBody) return NO_BODY;
  if (grpc.parsedPath.length !== 2) throw new CheckFailure('request_parse_error', 'invalid parsed path');
  return parseGrpcBody(grpc.decoder, grpc.parsedPath[0]!, grpc.parsedPath[1]!, Buffer.from(http.rawBody, 'base64'));
}

/**
 * `body`, or the base64 `raw_body` (Envoy's pack_as_bytes) when `body` is empty. The length is that of the
 * bytes Envoy sent: decoding replaces bytes that are not UTF-8, which would change it.
 */
function bodyOf(http: HttpRequest | undefined): { text: string; byteLength: number } {
  if (http?.body) return { text: http.body, byteLength: Buffer.byteLength(http.body, 'utf8') };
  if (http?.rawBody) {
    const bytes = Buffer.from(http.rawBody, 'base64');
    return { text: bytes.toString('utf8'), byteLength: bytes.length };
  }
  return { text: '', byteLength: 0 };
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** content-length larger than the body means the body was cut; a non-integer content-length is an error. */
function isShorterThanDeclared(byteLength: number, contentLength: string | undefined): boolean {
  if (contentLength === undefined) return false;
  if (!/^[+-]?[0-9]+$/.test(contentLength)) {
    throw new CheckFailure('request_parse_error', 'content-length is not an integer');
  }
  const declared = BigInt(contentLength);
  if (declared > INT64_MAX || declared < INT64_MIN) {
    throw new CheckFailure('request_parse_error', 'content-length out of range');
  }
  return declared !== -1n && declared > BigInt(byteLength);
}

/**
 * The boundary parameter of a multipart content type, or undefined when it has none. A content type Go's
 * mime.ParseMediaType rejects, or an empty boundary, is an error there, so a parse error here.
 */
function multipartBoundary(contentType: string): string | undefined {
  const media = parseMediaType(contentType);
  if (media === undefined) throw new CheckFailure('request_parse_error', 'invalid multipart content type');
  const boundary = media.params['boundary'];
  if (boundary === '') throw new CheckFailure('request_parse_error', 'empty multipart boundary');
  return boundary;
}
