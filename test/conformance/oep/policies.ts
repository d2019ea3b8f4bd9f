// Every policy of the suite, each a rule of package oep, behind one dispatcher rule that picks the policy
// named by the context extension `oep-policy`. Both servers serve the same Rego: one opa-envoy-plugin
// process (decision path oep/allow) and one meshwarden process (the Rego compiled to wasm with that
// entrypoint), so every case runs on one process each and all policies compile once, up front.

export const POLICY_EXTENSION = 'oep-policy';
export const DISPATCH_PATH = 'oep/allow';

const result = (expression: string): string => `allow := {"allowed": true, "dynamic_metadata": {"r": ${expression}}}`;

/** Policies shared by several cases (name → the rules of package oep.p.<name>). */
export const POLICIES: Record<string, string> = {
  // Echo: the whole input document as the body of a 203 deny (JSON text keeps every digit and every key).
  echo: 'allow := {"allowed": false, "http_status": 203, "body": json.marshal(input)}',
  allow_true: 'allow := true',
  allow_false: 'allow := false',
  default_false: 'default allow := false\nallow if input.attributes.request.http.method == "GET"',
  undefined: 'allow if input.attributes.no_such_key',
  conflict: 'allow := true if input.attributes\nallow := false if input.attributes',
  number: 'allow := 1',
  string: 'allow := "true"',
  array: 'allow := [true]',
  null_decision: 'allow := null',
  missing_allowed: 'allow := {"headers": {"x-a": "b"}}',
  allowed_string: 'allow := {"allowed": "true"}',
  empty_allow_object: 'allow := {"allowed": true}',
  empty_deny_object: 'allow := {"allowed": false}',
  headers: 'allow := {"allowed": true, "headers": {"x-a": "1", "x-b": "2"}}',
  headers_multi: 'allow := {"allowed": true, "headers": {"x-multi": ["a", "b", "c"], "x-one": "1"}}',
  headers_array: 'allow := {"allowed": true, "headers": [{"x-a": "1"}, {"x-a": "2", "x-b": "3"}]}',
  headers_set: 'allow := {"allowed": true, "headers": {"x-set": {"v"}}}',
  headers_empty_value: 'allow := {"allowed": true, "headers": {"x-empty": ""}}',
  headers_number: 'allow := {"allowed": true, "headers": {"x-n": 1}}',
  headers_host: 'allow := {"allowed": true, "headers": {"host": "evil.example"}}',
  headers_envoy: 'allow := {"allowed": true, "headers": {"x-envoy-original-path": "/x"}}',
  response_headers: 'allow := {"allowed": true, "response_headers_to_add": {"set-cookie": ["a=1", "b=2"], "x-r": "v"}}',
  remove_headers: 'allow := {"allowed": true, "request_headers_to_remove": ["x-remove-1", "x-remove-2"]}',
  remove_headers_string: 'allow := {"allowed": true, "request_headers_to_remove": "x-remove"}',
  query_set: 'allow := {"allowed": true, "query_parameters_to_set": {"foo": "value1", "bar": ["value2", "value3"]}}',
  query_remove: 'allow := {"allowed": true, "query_parameters_to_remove": ["foo", "bar"]}',
  all_ok_keys:
    'allow := {"allowed": true, "headers": {"x-up": "u"}, "response_headers_to_add": {"x-down": "d"}, "request_headers_to_remove": ["x-gone"], "query_parameters_to_set": {"q": "1"}, "query_parameters_to_remove": ["r"], "dynamic_metadata": {"k": "v"}}',
  deny_full: 'allow := {"allowed": false, "headers": {"foo": "bar", "baz": "taz"}, "body": "Unauthorized Request", "http_status": 301}',
  deny_400: 'allow := {"allowed": false, "http_status": 400, "body": "bad"}',
  deny_500: 'allow := {"allowed": false, "http_status": 500}',
  deny_401_multi: 'allow := {"allowed": false, "http_status": 401, "headers": {"www-authenticate": ["Bearer", "Basic"]}}',
  deny_9999: 'allow := {"allowed": false, "http_status": 9999}',
  deny_status_float: 'allow := {"allowed": false, "http_status": 403.0}',
  deny_status_string: 'allow := {"allowed": false, "http_status": "403"}',
  deny_body_number: 'allow := {"allowed": false, "body": 5}',
  allow_bad_status: 'allow := {"allowed": true, "http_status": 1}',
  allow_bad_body: 'allow := {"allowed": true, "body": 5}',
  deny_bad_remove: 'allow := {"allowed": false, "request_headers_to_remove": "x"}',
  metadata: 'allow := {"allowed": true, "dynamic_metadata": {"s": "x", "n": 1.5, "i": 42, "b": true, "z": null, "l": [1, "a"], "o": {"p": {"q": "deep"}}}}',
  metadata_big: 'allow := {"allowed": true, "dynamic_metadata": {"big": 9007199254740993, "neg": -12345678901234567890}}',
  metadata_decision_id: 'allow := {"allowed": true, "dynamic_metadata": {"decision_id": "from-policy", "k": "v"}}',
  metadata_deny: 'allow := {"allowed": false, "dynamic_metadata": {"why": "policy"}}',
  metadata_not_object: 'allow := {"allowed": true, "dynamic_metadata": "text"}',
  // Echo through dynamic_metadata (a google.protobuf.Struct: every number a double on the wire)
  echo_metadata: 'allow := {"allowed": true, "dynamic_metadata": {"parsed_body": input.parsed_body, "parsed_query": input.parsed_query, "size": object.get(input.attributes.request.http, "size", null)}}',
  unknown_keys: 'allow := {"allowed": true, "colour": "blue"}',
  by_method: 'allow := {"allowed": input.attributes.request.http.method == "GET", "http_status": 405}',
  by_path: 'allow := {"allowed": input.parsed_path == ["public", "x"]}',
  by_principal: 'allow := input.source_principal == "spiffe://cluster.local/ns/analytics/sa/analytics"',
  // A GraphQL API's policy: the request body's query validated against the schema, its AST in the metadata.
  graphql_body:
    'schema := "type Query { user(id: ID!): User } type User { id: ID! name: String friends: [User] }"\ndefault ast := "unparsed"\nast := graphql.parse_query(input.parsed_body.query)\nallow := {"allowed": graphql.is_valid(input.parsed_body.query, schema), "http_status": 400, "dynamic_metadata": {"ast": ast}}',
  // The known differences' own policies
  body_count: 'allow := {"allowed": true, "dynamic_metadata": {"length": count(json.marshal(input.parsed_body))}}',
  sprintf_body: result('sprintf("%v", [input.parsed_body.n])'),
  sprintf_big: result('sprintf("%v", [12345678901234567890])'),
  sprintf_size: result('sprintf("%v", [input.attributes.request.http.size])'),
};

/** Policies that call builtins a wasm host must provide (or that OPA compiles natively): name → Rego expression. */
export const BUILTIN_EXPRESSIONS: Record<string, string> = {
  'time.now_ns': 'time.now_ns() > 1700000000000000000',
  'time.parse_rfc3339_ns': 'time.parse_rfc3339_ns("2026-08-17T10:11:12.5Z")',
  'time.parse_ns': 'time.parse_ns("2006-01-02", "2026-08-17")',
  'time.parse_duration_ns': 'time.parse_duration_ns("1h30m")',
  'time.date': 'time.date(1786961472000000000)',
  'time.clock': 'time.clock([1786961472000000000, "Europe/Paris"])',
  'time.weekday': 'time.weekday(1786961472000000000)',
  'time.add_date': 'time.add_date(1786961472000000000, 1, 2, 3)',
  'time.diff': 'time.diff(1786961472000000000, 1700000000000000000)',
  'time.format': 'time.format([1786961472000000000, "UTC", "2006-01-02T15:04:05Z07:00"])',
  'io.jwt.decode':
    'io.jwt.decode("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSJ9.2Q6_1oSXEKZf9mR6b0vHL5mSFbIjNYUvuQSRP6aLpvE")',
  'io.jwt.verify_hs256':
    'io.jwt.verify_hs256("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSJ9.2Q6_1oSXEKZf9mR6b0vHL5mSFbIjNYUvuQSRP6aLpvE", "secret")',
  'io.jwt.decode_verify':
    'io.jwt.decode_verify("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSJ9.2Q6_1oSXEKZf9mR6b0vHL5mSFbIjNYUvuQSRP6aLpvE", {"secret": "secret", "time": 1786961472000000000})',
  'io.jwt.encode_sign':
    'io.jwt.encode_sign({"typ": "JWT", "alg": "HS256"}, {"sub": "alice"}, {"kty": "oct", "k": "c2VjcmV0"})',
  'crypto.sha256': 'crypto.sha256("meshwarden")',
  'crypto.md5': 'crypto.md5("meshwarden")',
  'crypto.sha1': 'crypto.sha1("meshwarden")',
  'crypto.hmac.sha256': 'crypto.hmac.sha256("message", "key")',
  'crypto.hmac.equal': 'crypto.hmac.equal("abc", "abc")',
  'semver.compare': 'semver.compare("1.2.3", "1.10.0")',
  'semver.is_valid': '[semver.is_valid("1.2.3-rc.1"), semver.is_valid("1.2")]',
  'uuid.rfc4122': 'count(uuid.rfc4122("seed"))',
  'uuid.parse': 'uuid.parse("00000000-0000-4000-8000-000000000000")',
  'units.parse_bytes': 'units.parse_bytes("1.5KiB")',
  'units.parse': 'units.parse("10m")',
  'net.cidr_contains': 'net.cidr_contains("10.0.0.0/8", "10.1.2.3")',
  'net.cidr_intersects': 'net.cidr_intersects("10.0.0.0/8", "10.1.0.0/16")',
  'net.cidr_merge': 'net.cidr_merge(["10.0.0.0/24", "10.0.1.0/24"])',
  'net.cidr_is_valid': '[net.cidr_is_valid("10.0.0.0/8"), net.cidr_is_valid("10.0.0.0/33")]',
  'net.cidr_contains_matches': 'net.cidr_contains_matches(["10.0.0.0/8"], ["10.1.1.1", "192.168.0.1"])',
  'glob.match': '[glob.match("*.example.com", ["."], "api.example.com"), glob.match("*.example.com", ["."], "a.b.example.com")]',
  'glob.quote_meta': 'glob.quote_meta("*.example.com")',
  'regex.match': 'regex.match("^/api/v[0-9]+/", "/api/v2/x")',
  'regex.find_n': 'regex.find_n("[a-z]+", "ab 12 cd ef", 2)',
  'regex.replace': 'regex.replace("a-b-c", "-", "+")',
  'regex.split': 'regex.split("[,;]", "a,b;c")',
  'regex.template_match': 'regex.template_match("urn:foo:{.*}", "urn:foo:bar:baz", "{", "}")',
  'regex.find_all_string_submatch_n': 'regex.find_all_string_submatch_n("a(x*)b", "-ab-axxb-", -1)',
  'regex.is_valid': '[regex.is_valid("a+"), regex.is_valid("a(")]',
  sprintf: 'sprintf("%s=%d %v %.2f", ["x", 42, {"a": [1]}, 3.14159])',
  'yaml.marshal': 'yaml.marshal({"a": [1, "b"]})',
  'yaml.unmarshal': 'yaml.unmarshal("a: [1, b]\\nc: {d: true}")',
  'yaml.is_valid': '[yaml.is_valid("a: 1"), yaml.is_valid("a: [")]',
  'json.marshal': 'json.marshal({"b": 1, "a": [true, null]})',
  'json.unmarshal': 'json.unmarshal("{\\"a\\": [1, 2.5, \\"x\\"]}")',
  'json.is_valid': '[json.is_valid("{}"), json.is_valid("{")]',
  'json.patch': 'json.patch({"a": 1}, [{"op": "add", "path": "/b", "value": 2}])',
  'json.filter': 'json.filter({"a": {"b": 1, "c": 2}}, ["a/b"])',
  'json.marshal_with_options': 'json.marshal_with_options({"a": 1}, {"pretty": true, "indent": "  "})',
  'graphql.parse_and_verify':
    'graphql.parse_and_verify("query Q($id: ID!) { user(id: $id) { name ...F } } fragment F on User { id }", "type Query { user(id: ID!): User } type User { id: ID! name: String }")',
  'graphql.schema_is_valid': '[graphql.schema_is_valid("type Query { a: Int }"), graphql.schema_is_valid("type Query { a: Nope }")]',
  'base64url.encode': 'base64url.encode("meshwarden?")',
  'hex.encode': 'hex.encode("mesh")',
  'urlquery.encode_object': 'urlquery.encode_object({"a": "b c", "d": ["e", "f"]})',
  'urlquery.decode_object': 'urlquery.decode_object("a=b+c&d=e&d=f")',
  'strings.replace_n': 'strings.replace_n({"a": "1", "b": "2"}, "abc")',
  'object.union_n': 'object.union_n([{"a": 1}, {"b": 2}, {"a": 3}])',
  'graph.reachable': 'graph.reachable({"a": ["b"], "b": ["c"], "c": []}, ["a"])',
  'numbers.range_step': 'numbers.range_step(0, 10, 3)',
  'strings.any_prefix_match': 'strings.any_prefix_match(["/api/x"], ["/api"])',
  'net.cidr_expand': 'net.cidr_expand("10.0.0.0/30")',
};

/** Package name of a builtin case's policy: `time.now_ns` → `b_time_now_ns`. */
export function builtinPolicyName(builtin: string): string {
  return `b_${builtin.replace(/[^a-z0-9]/gi, '_')}`;
}

export function allPolicies(): Record<string, string> {
  const policies: Record<string, string> = { ...POLICIES };
  for (const [builtin, expression] of Object.entries(BUILTIN_EXPRESSIONS)) policies[builtinPolicyName(builtin)] = result(expression);
  return policies;
}

/**
 * One Rego module (one package, so one file serves both servers) holding every policy as a rule `p_<name>`
 * and the dispatcher `allow`. No policy named: allow, so an empty CheckRequest is evaluated.
 */
export function suiteRego(): string {
  const policies = allPolicies();
  const lines = ['package oep', '', `allow := true if not input.attributes.contextExtensions["${POLICY_EXTENSION}"]`];
  for (const name of Object.keys(policies)) {
    lines.push('', 'allow := r if {', `\tinput.attributes.contextExtensions["${POLICY_EXTENSION}"] == "${name}"`, `\tr := p_${name}`, '}');
  }
  for (const [name, rules] of Object.entries(policies)) {
    lines.push('', rules.replace(/^(default )?allow\b/gm, `$1p_${name}`));
  }
  return `${lines.join('\n')}\n`;
}
