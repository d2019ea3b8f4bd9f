// The case table: each case is one CheckRequest (bytes encoded once, sent to both servers) and the policy
// (by name, see policies.ts) that decides it. Groups: input (the echo policy returns the input document),
// decision (object/boolean decisions, undefined and errors), builtin (policies calling OPA builtins a
// wasm host must provide), known (the six known differences of issue 11).
import { BUILTIN_EXPRESSIONS, POLICY_EXTENSION, builtinPolicyName } from './policies.js';
import { encodeMessage, type RequestObject } from './wire.js';

export type Group = 'input' | 'decision' | 'builtin' | 'known';

export interface Case {
  /** unique; the prefix before `/` is the group */
  name: string;
  group: Group;
  policy: string;
  /** the CheckRequest, or raw bytes sent as they are */
  request: RequestObject | Buffer;
}

interface Http {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  rawBody?: string;
  size?: string | number;
  [field: string]: unknown;
}

/** A CheckRequest as Envoy sends it for an HTTP request; `extra` merges into `attributes`. */
export function httpRequest(policy: string, http: Http = {}, extra: Record<string, any> = {}): RequestObject {
  const { method = 'GET', path = '/', headers = {}, ...rest } = http;
  const { contextExtensions, source, destination, request, ...attributes } = extra;
  return {
    attributes: {
      source: { address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } }, ...source },
      destination: { address: { socketAddress: { address: '10.0.2.5', portValue: 8080 } }, ...destination },
      request: {
        time: { seconds: 1786961472, nanos: 123456000 },
        ...request,
        http: {
          id: '8306245629211637762',
          method,
          path,
          host: 'data.svc:8080',
          scheme: 'http',
          protocol: 'HTTP/1.1',
          headers: { ':authority': 'data.svc:8080', ':method': method, ':path': path, ...headers },
          ...rest,
        },
      },
      contextExtensions: { ...contextExtensions, [POLICY_EXTENSION]: policy },
      ...attributes,
    },
  };
}

const cases: Case[] = [];

function add(group: Group, name: string, policy: string, request: RequestObject | Buffer): void {
  cases.push({ name: `${group}/${name}`, group, policy, request });
}

/** An echo case: the input documents of both servers are compared key by key. */
function input(name: string, http: Http = {}, extra: Record<string, any> = {}): void {
  add('input', name, 'echo', httpRequest('echo', http, extra));
}

const json = (body: string, headers: Record<string, string> = {}): Http => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body,
});
const form = (body: string, headers: Record<string, string> = {}): Http => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body,
});
const multipart = (body: string, contentType = 'multipart/form-data; boundary=foo', headers: Record<string, string> = {}): Http => ({
  method: 'POST',
  headers: { 'content-type': contentType, ...headers },
  body,
});
const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

// ---- methods
for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT', 'PROPFIND', 'get']) {
  input(`method ${method}`, { method });
}

// ---- paths
const paths: [string, string][] = [
  ['root', '/'],
  ['empty', ''],
  ['plain', '/a/b/c'],
  ['trailing slash', '/a/b/'],
  ['double slash prefix', '//admin/dashboard'],
  ['triple slash', '///x'],
  ['inner double slash', '/a//b'],
  ['encoded slashes', '/%2Fmy%2Ftest%2Fpath'],
  ['encoded space', '/a%20b'],
  ['utf-8 escape', '/caf%C3%A9'],
  ['raw utf-8', '/café'],
  ['plus stays', '/a+b'],
  ['bad escape %zz', '/%zz'],
  ['lone percent', '/%'],
  ['short escape', '/a%2'],
  ['semicolon in path', '/a;b=c/d'],
  ['encoded nul', '/%00x'],
  ['dot segments', '/a/../b/./c'],
  ['asterisk', '*'],
  ['no leading slash', 'relative/path'],
  ['invalid utf-8 after decode', '/%E2%82'],
  ['encoded question mark', '/a%3Fb'],
  ['uppercase escape', '/%2f%2F'],
  ['absolute url', 'http://example.com/a/b?c=d'],
];
for (const [name, path] of paths) input(`path ${name}`, { path });

// ---- queries
const queries: [string, string][] = [
  ['repeated', '/p?a=1&a=2&x=y'],
  ['newline escape', '/%2Fp?a=1&a=new%0aline'],
  ['plus is space', '/p?a+b=c+d'],
  ['encoded plus', '/p?a=%2B'],
  ['bad escape', '/p?a=%zz'],
  ['lone percent', '/p?a=%'],
  ['semicolon', '/p?a=1;b=2'],
  ['key without value', '/p?a'],
  ['empty value', '/p?a='],
  ['empty key', '/p?=x'],
  ['bare question mark', '/p?'],
  ['empty pairs', '/p?&&a=1&&'],
  ['escaped key and value', '/p?%41=%42'],
  ['fragment', '/p?k=v#frag'],
  ['brackets', '/p?a[]=1&a[]=2'],
  ['case distinct keys', '/p?a=1&A=2'],
  ['utf-8 value', '/p?x=%E2%82%AC'],
  ['equals in value', '/p?a=b=c'],
  ['double question mark', '/p?a=1?b=2'],
  ['invalid utf-8 value', '/p?x=%FF'],
];
for (const [name, path] of queries) input(`query ${name}`, { path });

// ---- headers
input('headers plain', { headers: { 'x-a': '1', 'user-agent': 'curl/8' } });
input('headers comma joined', { headers: { accept: 'text/html, application/json', cookie: 'a=1; b=2' } });
input('headers uppercase key', { headers: { 'X-Upper': 'V' } });
input('headers utf-8 value', { headers: { 'x-name': 'Zoë ☃' } });
input('headers empty value', { headers: { 'x-empty': '' } });
input('headers many', { headers: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-h-${i}`, `v${i}`])) });
input('header_map only', { headers: {}, headerMap: { headers: [{ key: 'x-raw', rawValue: base64('raw') }, { key: 'content-type', value: 'application/json' }] }, body: '{"a":1}' });

// ---- JSON bodies
const jsonBodies: [string, string][] = [
  ['object', '{"firstname":"foo","lastname":"bar"}'],
  ['array', '[1,"two",{"three":3}]'],
  ['string', '"foo"'],
  ['number', '42'],
  ['true', 'true'],
  ['null', 'null'],
  ['big integer', '{"n":9007199254740993,"m":-123456789012345678901234567890}'],
  ['decimal text kept', '{"a":1.50,"b":1e3,"c":-0,"d":1E-7}'],
  ['nested 100', nested(100)],
  ['escaped slash', '{"url":"http:\\/\\/x"}'],
  ['unicode escapes', '{"s":"\\u00e9\\u2603\\ud83d\\ude00"}'],
  ['duplicate keys', '{"a":1,"a":2}'],
  ['whitespace around', ' \n\t{"a":1} \n'],
  ['invalid', '{"a":'],
  ['trailing garbage', '{"a":1} x'],
  ['two values', '{"a":1}{"b":2}'],
  ['single quotes', "{'a':1}"],
  ['whitespace only', '   '],
  ['byte order mark', '\ufeff{"a":1}'],
  ['control character in string', '{"a":"x\ty"}'],
  ['nan', 'NaN'],
];
for (const [name, body] of jsonBodies) input(`json body ${name}`, json(body));
input('json body empty', json(''));
input('json body from raw_body', { ...json(''), body: undefined, rawBody: base64('{"raw":true}') });
input('json body in body and raw_body', { ...json('{"from":"body"}'), rawBody: base64('{"from":"raw"}') });
input('json content-type with charset', { ...json('{"a":1}'), headers: { 'content-type': 'application/json; charset=utf-8' } });
input('json content-type +json suffix', { ...json('{"a":1}'), headers: { 'content-type': 'application/json-patch+json' } });
input('json content-type uppercase', { ...json('{"a":1}'), headers: { 'content-type': 'Application/JSON' } });
input('json content-type vendor', { ...json('{"a":1}'), headers: { 'content-type': 'application/vnd.api+json' } });
input('text/plain body', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
input('no content-type body', { method: 'POST', body: '{"a":1}' });
input('content-length equal', json('{"a":1}', { 'content-length': '7' }));
input('content-length larger', json('{"a":1}', { 'content-length': '1000' }));
input('content-length smaller', json('{"a":1}', { 'content-length': '3' }));
input('content-length not a number', json('{"a":1}', { 'content-length': 'seven' }));
input('content-length negative', json('{"a":1}', { 'content-length': '-1' }));
input('content-length with spaces', json('{"a":1}', { 'content-length': ' 7 ' }));
input('content-length larger, invalid json', json('{"a":', { 'content-length': '1000' }));
input('partial body true', json('{"a":', { 'x-envoy-auth-partial-body': 'true' }));
input('partial body false', json('{"a":1}', { 'x-envoy-auth-partial-body': 'false' }));
input('partial body TRUE', json('{"a":1}', { 'x-envoy-auth-partial-body': 'TRUE' }));

// ---- form bodies
input('form body', form('firstname=foo&lastname=bar&lastname=foobar'));
input('form body plus and escapes', form('a+b=c+d&e=%26%3D'));
input('form body bad escape', form('a=%zz'));
input('form body semicolon', form('a=1;b=2'));
input('form body empty', form(''));
input('form body from raw_body', { ...form(''), body: undefined, rawBody: base64('x=1&x=2') });
input('form body truncated', form('a=1', { 'content-length': '100' }));
input('form body partial', form('a=1', { 'x-envoy-auth-partial-body': 'true' }));

// ---- multipart bodies
const parts = (...items: string[]): string => `${items.map((item) => `--foo\r\n${item}\r\n`).join('')}--foo--\r\n`;
input('multipart text and json parts', multipart(parts('Content-Disposition: form-data; name="foo"\r\n\r\nbar', 'Content-Disposition: form-data; name="bar"\r\nContent-Type: application/json\r\n\r\n{"name":"bar"}')));
input('multipart repeated name', multipart(parts('Content-Disposition: form-data; name="a"\r\n\r\n1', 'Content-Disposition: form-data; name="a"\r\n\r\n2')));
input('multipart no boundary', multipart(parts('Content-Disposition: form-data; name="foo"\r\n\r\nbar'), 'multipart/form-data'));
input('multipart quoted boundary', multipart(parts('Content-Disposition: form-data; name="foo"\r\n\r\nbar'), 'multipart/form-data; boundary="foo"'));
input('multipart unnamed part', multipart(parts('Content-Disposition: form-data\r\n\r\nskipped', 'Content-Disposition: form-data; name="kept"\r\n\r\nyes')));
input('multipart file part', multipart(parts('Content-Disposition: form-data; name="f"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile text')));
input('multipart invalid json part', multipart(parts('Content-Disposition: form-data; name="j"\r\nContent-Type: application/json\r\n\r\n{"a":')));
input('multipart no closing delimiter', multipart('--foo\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'));
input('multipart garbage', multipart('not multipart at all'));
input('multipart from raw_body', { ...multipart(''), body: undefined, rawBody: base64(parts('Content-Disposition: form-data; name="r"\r\n\r\nraw')) });
input('multipart truncated', multipart(parts('Content-Disposition: form-data; name="a"\r\n\r\n1'), undefined, { 'content-length': '10000' }));
input('multipart lf line endings', multipart('--foo\nContent-Disposition: form-data; name="a"\n\n1\n--foo--\n'));

// ---- context extensions, metadata
input('context extensions', {}, { contextExtensions: { team: 'data', 'with space': 'v w', empty: '' } });
input('metadata_context struct', {}, {
  metadataContext: {
    filterMetadata: {
      'envoy.filters.http.jwt_authn': {
        fields: {
          sub: { stringValue: 'alice' },
          n: { numberValue: 3 },
          f: { numberValue: 1.5 },
          big: { numberValue: 9007199254740993 },
          ok: { boolValue: true },
          nothing: { nullValue: 'NULL_VALUE' },
          list: { listValue: { values: [{ stringValue: 'a' }, { numberValue: 2 }] } },
          obj: { structValue: { fields: { inner: { stringValue: 'x' } } } },
        },
      },
    },
  },
});
input('metadata_context empty struct', {}, { metadataContext: { filterMetadata: { empty: {} } } });
input('route_metadata_context struct', {}, { routeMetadataContext: { filterMetadata: { route: { fields: { name: { stringValue: 'r1' } } } } } });

// ---- int64 and time
input('size small', { size: '1234' });
input('size zero is omitted', { size: '0' });
input('time with nanos only', {}, { request: { time: { seconds: 0, nanos: 5 } } });
input('no time', {}, { request: { time: null } });

// ---- peers, certificates, TLS
const CERT = encodeURIComponent('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
input('source principal spiffe', {}, { source: { principal: 'spiffe://cluster.local/ns/analytics/sa/analytics' } });
input('destination principal', {}, { destination: { principal: 'spiffe://cluster.local/ns/data/sa/data' } });
input('principal not spiffe', {}, { source: { principal: 'CN=foo,O=bar' } });
input('principal invalid spiffe', {}, { source: { principal: 'SPIFFE://Cluster.Local/ns/a/../sa/b' } });
input('peer certificate and labels', {}, { source: { principal: 'spiffe://cluster.local/ns/a/sa/a', certificate: CERT, labels: { app: 'a' }, service: 'a.ns' } });
input('tls session', {}, { tlsSession: { sni: 'data.svc' } });
input('unix socket peer', {}, { source: { address: { pipe: { path: '/var/run/x.sock', mode: 384 } } } });

// ---- decisions (each with its own policy; the request is a plain GET unless said otherwise)
const decisions = [
  'allow_true', 'allow_false', 'undefined', 'conflict', 'number', 'string', 'array', 'null_decision', 'missing_allowed',
  'allowed_string', 'empty_allow_object', 'empty_deny_object', 'headers', 'headers_multi', 'headers_array', 'headers_set',
  'headers_empty_value', 'headers_number', 'headers_host', 'headers_envoy', 'response_headers', 'remove_headers',
  'remove_headers_string', 'query_set', 'query_remove', 'all_ok_keys', 'deny_full', 'deny_400', 'deny_500', 'deny_401_multi',
  'deny_9999', 'deny_status_float', 'deny_status_string', 'deny_body_number', 'allow_bad_status', 'allow_bad_body',
  'deny_bad_remove', 'metadata', 'metadata_big', 'metadata_decision_id', 'metadata_deny', 'metadata_not_object', 'unknown_keys',
];
for (const policy of decisions) add('decision', policy, policy, httpRequest(policy));
add('decision', 'echo_metadata json body', 'echo_metadata', httpRequest('echo_metadata', json('{"i":42,"f":1.5,"big":12345678901234567890,"neg":-0,"n":null,"l":[1,[2]],"o":{"e":{}}}')));
add('decision', 'echo_metadata query and size', 'echo_metadata', httpRequest('echo_metadata', { path: '/q?a=1&a=2&b', size: '9007199254740993' }));
add('decision', 'graphql_body valid query', 'graphql_body', httpRequest('graphql_body', json('{"query":"query Q($id: ID!) { user(id: $id) { name friends { id } } }","variables":{"id":"1"}}')));
add('decision', 'graphql_body invalid query', 'graphql_body', httpRequest('graphql_body', json('{"query":"{ user(id: 1) { nope } }"}')));
add('decision', 'graphql_body syntax error', 'graphql_body', httpRequest('graphql_body', json('{"query":"{ user("}')));
add('decision', 'graphql_body comments, aliases, fragments', 'graphql_body', httpRequest('graphql_body', json('{"query":"# who\\nquery { me: user(id: \\"2\\") { ...U } } fragment U on User { n: name }"}')));
add('decision', 'default_false GET', 'default_false', httpRequest('default_false'));
add('decision', 'default_false POST', 'default_false', httpRequest('default_false', { method: 'POST' }));
add('decision', 'by_method DELETE', 'by_method', httpRequest('by_method', { method: 'DELETE' }));
add('decision', 'by_path allowed', 'by_path', httpRequest('by_path', { path: '/public/x?y=1' }));
add('decision', 'by_path denied via //', 'by_path', httpRequest('by_path', { path: '//public/x' }));
add('decision', 'by_principal allowed', 'by_principal', httpRequest('by_principal', {}, { source: { principal: 'spiffe://cluster.local/ns/analytics/sa/analytics' } }));
add('decision', 'by_principal denied', 'by_principal', httpRequest('by_principal', {}, { source: { principal: 'spiffe://cluster.local/ns/other/sa/x' } }));
add('decision', 'parse error (bad json) never reaches the policy', 'allow_true', httpRequest('allow_true', json('{')));
add('decision', 'parse error (bad query escape)', 'allow_true', httpRequest('allow_true', { path: '/p?a=%zz' }));
add('decision', 'empty CheckRequest', 'allow_true', Buffer.alloc(0));
add('decision', 'CheckRequest without http', 'echo', { attributes: { contextExtensions: { [POLICY_EXTENSION]: 'echo' } } });
add('decision', 'oversize CheckRequest (5 MiB body)', 'allow_true', httpRequest('allow_true', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(5 * 1024 * 1024) }));
add('decision', 'undecodable CheckRequest bytes', 'allow_true', Buffer.from([0x0a, 0xff, 0xff]));

// ---- builtins a wasm host must provide (or OPA compiles natively)
for (const builtin of Object.keys(BUILTIN_EXPRESSIONS)) {
  add('builtin', builtin, builtinPolicyName(builtin), httpRequest(builtinPolicyName(builtin)));
}

// ---- the six known differences of issue 11
add('known', 'json body nested deeper than 10000', 'allow_true', httpRequest('allow_true', json(nested(10_001))));
add('known', 'json body lone surrogate escape', 'echo', httpRequest('echo', json('{"s":"\\udc00"}')));
add('known', 'json.marshal of a deep accepted body', 'body_count', httpRequest('body_count', json(nested(9_000))));
add('known', 'typed_filter_metadata Any', 'echo', httpRequest('echo', {}, {
  metadataContext: {
    typedFilterMetadata: {
      'envoy.filters.http.rbac': { type_url: 'type.googleapis.com/google.protobuf.StringValue', value: encodeMessage('google.protobuf.StringValue', { value: 'hello' }) },
    },
  },
}));
add('known', 'size above 2^53', 'echo', httpRequest('echo', { size: '9007199254740993' }));
add('known', 'time seconds above 2^53', 'echo', httpRequest('echo', {}, { request: { time: { seconds: '9007199254740993', nanos: 1 } } }));
add('known', 'sprintf %v of a big integer from the body', 'sprintf_body', httpRequest('sprintf_body', json('{"n":12345678901234567890}')));
add('known', 'sprintf %v of a big integer literal', 'sprintf_big', httpRequest('sprintf_big'));
add('known', 'sprintf %v of size above 2^53', 'sprintf_size', httpRequest('sprintf_size', { size: '9007199254740993' }));

export const CASES: readonly Case[] = cases;
