// Every difference between opa-envoy-plugin (OEP) and meshwarden that the differential suite accepts, in
// three lists. A case's observed difference must be exactly what its entries describe; any other
// difference fails the suite.
//  DELIBERATE  README "Deliberate differences from opa-envoy-plugin", row by row: which cases each row
//              applies to and the exact value of every field that differs, on each side.
//  PENDING     differences meshwarden intends to fix (the builtins being implemented in src/builtins/, the six
//              known differences of issue 11). Printed loudly, not failed; empty this list as fixes land.
//  UNDECIDED   differences this suite found that are neither: each needs a decision (a README row, or a fix).
//              Treated like PENDING until then.
// Field names are those of compare.ts `fieldsOf` (`status.code`, `denied.headers.append`, `input.parsed_path`…).
import { isDeepStrictEqual } from 'node:util';
import { CASES, type Case } from './cases.js';
import { show } from './compare.js';

export interface Expectation {
  describe: string;
  test(value: unknown): boolean;
}

/** Field → the value expected from each side. */
export type Shape = Record<string, { oep: Expectation; meshwarden: Expectation }>;

export interface Deliberate {
  id: string;
  /** the README row ("situation" column) */
  readme: string;
  /** case name → the exact shape of the difference in that case */
  cases: Record<string, Shape>;
}

export interface Pending {
  id: string;
  what: string;
  cases: string[];
}

export const is = (value: unknown): Expectation => ({ describe: show(value), test: (v) => isDeepStrictEqual(v, value) });
export const ABSENT = is(undefined);
const UUID = is('(a uuid)');

/** An identity block of meshwarden's (README "Identities"): the principal Envoy sent, or "" for none. */
const identityBlock = (principal: string): Expectation => ({
  describe: `meshwarden identity block {principal: ${show(principal)}, spiffe_id, trust_domain, authenticated, local, via, address, port…}`,
  test: (v) => {
    const block = v as Record<string, unknown> | undefined;
    return typeof block === 'object' && block !== null && block.principal === principal && typeof block.authenticated === 'boolean' && 'spiffe_id' in block && 'via' in block;
  },
});

/** meshwarden's fail-closed deny (README "Fail closed"): reason in status message, header, body and metadata. */
function reasonDeny(reason: string, httpStatus: number): Record<string, Expectation> {
  return {
    'status.code': is(7),
    'status.message': is(reason),
    http_response: is('denied_response'),
    'denied.status': is(httpStatus),
    'denied.headers': is([`x-ext-authz-reason: ${reason}`]),
    'denied.headers.append': is(['x-ext-authz-reason: append=false append_action=OVERWRITE_IF_EXISTS_OR_ADD']),
    'denied.body': is(reason),
    'dynamic_metadata.reason': is(reason),
    decision_id: UUID,
  };
}

/** Both sides' fields: OEP's values where given (else absent), meshwarden's as given (else absent). */
function shape(oep: Record<string, Expectation>, meshwarden: Record<string, Expectation>): Shape {
  const fields = new Set([...Object.keys(oep), ...Object.keys(meshwarden)]);
  return Object.fromEntries([...fields].map((field) => [field, { oep: oep[field] ?? ABSENT, meshwarden: meshwarden[field] ?? ABSENT }]));
}

/** OEP answers with a gRPC error; meshwarden denies with a reason code and 403. */
const rpcErrorVersusDeny = (oepError: string, reason: string): Shape => shape({ rpc_error: is(oepError) }, reasonDeny(reason, 403));

/** OEP's parse-error deny (400, its parser's text) against meshwarden's (400, the reason code only). */
function parseErrorText(oepText: string): Shape {
  const text = `request_parse_error: ${oepText}`;
  const { 'status.code': _code, http_response: _response, 'denied.status': _status, ...meshwarden } = reasonDeny('request_parse_error', 400);
  return shape({ 'status.message': is(text), 'denied.body': is(text) }, meshwarden);
}

/** `headers` append semantics: OEP sets neither field; meshwarden overwrites with a key's first value, appends the rest. */
const APPEND_UNSET: Expectation = {
  describe: 'every option "append=unset append_action=unset"',
  test: (v) => Array.isArray(v) && v.length > 0 && v.every((line) => / append=unset append_action=unset$/.test(String(line))),
};
const APPEND_SET: Expectation = {
  describe: "a key's first option append=false OVERWRITE_IF_EXISTS_OR_ADD, its later ones append=true APPEND_IF_EXISTS_OR_ADD",
  test: (v) => {
    if (!Array.isArray(v) || v.length === 0) return false;
    const seen = new Set<string>();
    return v.every((line) => {
      const key = String(line).slice(0, String(line).indexOf(':'));
      const first = !seen.has(key);
      seen.add(key);
      return String(line) === `${key}: ${first ? 'append=false append_action=OVERWRITE_IF_EXISTS_OR_ADD' : 'append=true append_action=APPEND_IF_EXISTS_OR_ADD'}`;
    });
  },
};
const appendFields = (...prefixes: string[]): Shape =>
  Object.fromEntries(prefixes.map((prefix) => [`${prefix}.append`, { oep: APPEND_UNSET, meshwarden: APPEND_SET }]));

/** Cases whose request cannot be parsed, with OEP's exact error text. */
const PARSE_ERRORS: Record<string, string> = {
  'input/path bad escape %zz': 'invalid URL escape "%zz"',
  'input/path lone percent': 'invalid URL escape "%"',
  'input/path short escape': 'invalid URL escape "%2"',
  'input/query bad escape': 'invalid URL escape "%zz"',
  'input/query lone percent': 'invalid URL escape "%"',
  'input/query semicolon': 'invalid semicolon separator in query',
  'input/json body invalid': 'unexpected EOF',
  'input/json body trailing garbage': "invalid character 'x' looking for beginning of value",
  'input/json body two values': "error: invalid character '{' after top-level value",
  'input/json body single quotes': "invalid character '\\'' looking for beginning of object key string",
  'input/json body whitespace only': 'EOF',
  'input/json body byte order mark': "invalid character 'ï' looking for beginning of value",
  'input/json body control character in string': "invalid character '\\t' in string literal",
  'input/json body nan': "invalid character 'N' looking for beginning of value",
  'input/content-length not a number': 'strconv.ParseInt: parsing "seven": invalid syntax',
  'input/content-length with spaces': 'strconv.ParseInt: parsing " 7 ": invalid syntax',
  'input/form body bad escape': 'invalid URL escape "%zz"',
  'input/form body semicolon': 'invalid semicolon separator in query',
  'input/multipart invalid json part': 'unexpected EOF',
  'input/multipart no closing delimiter': 'unexpected EOF',
  'input/multipart garbage': 'multipart: NextPart: EOF',
  'decision/parse error (bad json) never reaches the policy': 'unexpected EOF',
  'decision/parse error (bad query escape)': 'invalid URL escape "%zz"',
  // Go's encoding/json nesting limit, now meshwarden's too (src/request/json-text.ts).
  'known/json body nested deeper than 10000': "invalid character '[' exceeded max depth",
};

/** meshwarden's two added input keys, with the principals the case's request sent. */
function addedKeysShape(c: Case): Shape {
  const attributes = Buffer.isBuffer(c.request) ? undefined : (c.request.attributes as Record<string, any> | undefined);
  const principal = (peer: 'source' | 'destination'): string => attributes?.[peer]?.principal ?? '';
  return {
    'input.source': { oep: ABSENT, meshwarden: identityBlock(principal('source')) },
    'input.destination': { oep: ABSENT, meshwarden: identityBlock(principal('destination')) },
  };
}

const FALSE_403 = shape({ http_response: is('none') }, { http_response: is('denied_response'), 'denied.status': is(403) });

/** Allowed by OEP (which ignores deny-only keys on an allow), denied by meshwarden as an invalid decision. */
const { decision_id: _id, ...invalidOnAllow } = reasonDeny('invalid_decision', 403);
const VALIDATED_ON_ALLOW = shape({ 'status.code': is(0), http_response: is('ok_response') }, invalidOnAllow);

/** OEP passes the header upstream; meshwarden denies the decision as a forbidden mutation. */
function forbiddenUpstream(header: string): Shape {
  const key = header.slice(0, header.indexOf(':'));
  const { decision_id: _d, ...deny } = reasonDeny('forbidden_mutation', 403);
  return shape({ 'status.code': is(0), http_response: is('ok_response'), 'ok.headers': is([header]), 'ok.headers.append': is([`${key}: append=unset append_action=unset`]) }, deny);
}

export const DELIBERATE: Deliberate[] = [
  {
    id: 'errors-deny',
    readme: 'evaluation error, undefined decision, wrong result type, mistyped key (§4.1 items 22–24)',
    cases: {
      'decision/undefined': rpcErrorVersusDeny('2 undefined decision', 'undefined_decision'),
      'decision/conflict': {
        ...rpcErrorVersusDeny('', 'evaluation_error'),
        rpc_error: {
          oep: { describe: '"2 <file>:<line>: eval_conflict_error: complete rules must not produce multiple outputs"', test: (v) => /^2 \S+policy\.rego:\d+: eval_conflict_error: complete rules must not produce multiple outputs$/.test(String(v)) },
          meshwarden: ABSENT,
        },
      },
      'decision/number': rpcErrorVersusDeny('2 failed to get response status: illegal value for policy evaluation result: json.Number', 'invalid_decision'),
      'decision/string': rpcErrorVersusDeny('2 failed to get response status: illegal value for policy evaluation result: string', 'invalid_decision'),
      'decision/array': rpcErrorVersusDeny('2 failed to get response status: illegal value for policy evaluation result: []interface {}', 'invalid_decision'),
      'decision/null_decision': rpcErrorVersusDeny('2 failed to get response status: illegal value for policy evaluation result: <nil>', 'invalid_decision'),
      'decision/missing_allowed': rpcErrorVersusDeny('2 failed to get response status: unable to determine evaluation result due to missing "allowed" key', 'invalid_decision'),
      'decision/allowed_string': rpcErrorVersusDeny("2 failed to get response status: type assertion error, expected allowed to be of type 'boolean' but got 'string'", 'invalid_decision'),
      'decision/headers_number': rpcErrorVersusDeny("2 failed to get response headers: type assertion error for header 'x-n'", 'invalid_decision'),
      'decision/remove_headers_string': rpcErrorVersusDeny("2 failed to get request headers to remove: type assertion error, expected request_headers_to_remove to be of type '[]string' but got 'string'", 'invalid_decision'),
      'decision/deny_9999': rpcErrorVersusDeny('2 failed to get response http status: invalid HTTP status code 9999', 'invalid_decision'),
      'decision/deny_status_string': rpcErrorVersusDeny("2 failed to get response http status: type assertion error, expected http_status to be of type 'number' but got 'string'", 'invalid_decision'),
      'decision/deny_body_number': rpcErrorVersusDeny("2 failed to get response body: type assertion error, expected body to be of type 'string' but got 'json.Number'", 'invalid_decision'),
      'decision/metadata_not_object': rpcErrorVersusDeny("2 failed to get dynamic metadata: type assertion error, expected dynamic_metadata to be of type 'object' but got 'string'", 'invalid_decision'),
    },
  },
  {
    id: 'false-403',
    readme: 'boolean `false`',
    cases: { 'decision/allow_false': FALSE_403, 'decision/default_false POST': FALSE_403, 'decision/by_principal denied': FALSE_403 },
  },
  {
    id: 'parse-error-text',
    readme: 'parse error',
    cases: Object.fromEntries(Object.entries(PARSE_ERRORS).map(([name, text]) => [name, parseErrorText(text)])),
  },
  {
    id: 'validated-both-branches',
    readme: 'object decisions',
    cases: {
      'decision/allow_bad_status': VALIDATED_ON_ALLOW,
      'decision/allow_bad_body': VALIDATED_ON_ALLOW,
      // A deny either way; OEP ignores the allow-only key, meshwarden names the decision invalid.
      'decision/deny_bad_remove': shape({}, (({ 'status.code': _c, http_response: _h, 'denied.status': _s, decision_id: _d, ...rest }) => rest)(reasonDeny('invalid_decision', 403))),
    },
  },
  {
    id: 'header-append',
    readme: 'headers',
    cases: {
      'decision/headers': appendFields('ok.headers'),
      'decision/headers_multi': appendFields('ok.headers'),
      'decision/headers_array': appendFields('ok.headers'),
      'decision/headers_set': appendFields('ok.headers'),
      'decision/headers_empty_value': appendFields('ok.headers'),
      'decision/response_headers': appendFields('ok.response_headers_to_add'),
      'decision/all_ok_keys': appendFields('ok.headers', 'ok.response_headers_to_add'),
      'decision/deny_full': appendFields('denied.headers'),
      'decision/deny_401_multi': appendFields('denied.headers'),
    },
  },
  {
    id: 'empty-request-denied',
    readme: 'empty CheckRequest',
    // OEP evaluates it (the dispatcher allows a request that names no policy); meshwarden denies it.
    cases: { 'decision/empty CheckRequest': shape({ 'status.code': is(0), http_response: is('none'), decision_id: UUID }, reasonDeny('missing_attributes', 403)) },
  },
  {
    id: 'oversize-413',
    readme: 'oversize CheckRequest',
    cases: { 'decision/oversize CheckRequest (5 MiB body)': shape({ rpc_error: is('8 grpc: received message larger than max (5243126 vs. 4194304)') }, reasonDeny('request_too_large', 413)) },
  },
  {
    id: 'forbidden-mutation',
    readme: 'a decision that sets `host`, `x-envoy-*` or a pseudo-header upstream',
    cases: {
      'decision/headers_host': forbiddenUpstream('host: evil.example'),
      'decision/headers_envoy': forbiddenUpstream('x-envoy-original-path: /x'),
    },
  },
  {
    id: 'undecodable-request',
    readme: 'CheckRequest bytes that do not decode',
    cases: {
      'decision/undecodable CheckRequest bytes': shape({ rpc_error: is('13 grpc: error unmarshalling request: proto: cannot parse invalid wire-format data') }, reasonDeny('malformed_request', 400)),
    },
  },
  {
    id: 'http-status-float',
    readme: '`http_status` written as a float (`403.0`)',
    cases: { 'decision/deny_status_float': shape({ rpc_error: is('2 failed to get response http status: error converting JSON number to int: strconv.ParseInt: parsing "403.0": invalid syntax') }, { 'status.code': is(7), http_response: is('denied_response'), 'denied.status': is(403), decision_id: UUID }) },
  },
  {
    id: 'header-map-headers',
    readme: 'headers sent only in `header_map` (Envoy\'s `encode_raw_headers`)',
    // opa-envoy-plugin ignores header_map, so its body parser sees no content-type; meshwarden's reads it.
    cases: { 'input/header_map only': { 'input.parsed_body': { oep: is(null), meshwarden: ABSENT }, 'input.parsed_body.a': { oep: ABSENT, meshwarden: is(1n) } } },
  },
  {
    id: 'struct-double-text',
    readme: 'a float from `metadata_context` in `json.marshal`/`sprintf`',
    cases: {
      'input/metadata_context struct': { 'input.attributes.metadataContext.filterMetadata.envoy.filters.http.jwt_authn.big': { oep: is({ '(number)': '9.007199254740992e+15' }), meshwarden: is(9007199254740992n) } },
    },
  },
  {
    id: 'order-of-keys-and-sets',
    readme: 'the order of object keys in `json.marshal` and of a set\'s members',
    // OPA's Go evaluator sorts both; the wasm module keeps the order they were built in (the same value).
    cases: {
      'builtin/json.marshal': { 'dynamic_metadata.r': { oep: is('{"a":[true,null],"b":1}'), meshwarden: is('{"b":1,"a":[true,null]}') } },
      'builtin/graph.reachable': { 'dynamic_metadata.r': { oep: is(['a', 'b', 'c']), meshwarden: is(['c', 'b', 'a']) } },
    },
  },
  {
    id: 'deep-walk',
    readme: 'a policy that walks an input nested thousands of levels deep (`json.marshal`, `walk`)',
    cases: {
      'known/json.marshal of a deep accepted body': shape(
        { 'status.code': is(0), http_response: is('ok_response'), 'dynamic_metadata.length': is(18000) },
        (({ decision_id: _d, ...deny }) => deny)(reasonDeny('evaluation_error', 403)),
      ),
    },
  },
  {
    id: 'big-integer-arguments',
    readme: 'an integer beyond 2^53 handed to a builtin (`sprintf`, `time.format`)',
    // opa-wasm hands a builtin its arguments through JSON.parse: the nearest double arrives.
    cases: {
      'known/sprintf %v of a big integer from the body': { 'dynamic_metadata.r': { oep: is('12345678901234567890'), meshwarden: is('12345678901234567168') } },
      'known/sprintf %v of a big integer literal': { 'dynamic_metadata.r': { oep: is('12345678901234567890'), meshwarden: is('12345678901234567168') } },
      'known/sprintf %v of size above 2^53': { 'dynamic_metadata.r': { oep: is('9007199254740993'), meshwarden: is('9007199254740992') } },
    },
  },
  {
    id: 'added-input-keys',
    readme: 'the input document',
    // Every echo case whose request parses (a parse error has no input document to compare).
    cases: Object.fromEntries(CASES.filter((c) => c.policy === 'echo' && !(c.name in PARSE_ERRORS)).map((c) => [c.name, addedKeysShape(c)])),
  },
];

export const PENDING: Pending[] = [



];

// Every difference found so far is decided: fixed, or a README row above.
export const UNDECIDED: Pending[] = [];
