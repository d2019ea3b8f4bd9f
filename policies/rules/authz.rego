# meshwarden's rules library: evaluates a compiled rules document (data.meshwarden.rules, see README.md in
# this folder) against the input document. Entrypoint: meshwarden/rules/decision.
#
# Only three keys of the compiled document are read, each by direct reference (never data.meshwarden.rules
# as a whole, which also holds this package's rules): default_allow, by_destination[<key>] for the keys of
# the request's destination, and any_destination. Rules of other destinations are never visited.
#
# Decisions taken where the contract is silent (see also the test file):
# - Absent values, one rule for every field: a value the request does not have (no valid, accepted source
#   identity; a federated source's namespace or service account; no method, path, host or port, e.g. a TCP
#   check; a missing `when` key) never satisfies a positive field. It satisfies a negative (not_*) field
#   only in a DENY rule. So a negative condition never turns a missing identity or attribute into an allow
#   (T-02), and a DENY fails closed on it: `DENY from notNamespaces [frontend]` stops plaintext callers too,
#   as Istio's `notPrincipals: ["*"]` does. (Istio's ALLOW would let a missing value satisfy notX; ours
#   does not.)
# - Identity: principals and not_principals compare the full SPIFFE ID of an authenticated source;
#   trust_domains and not_trust_domains compare its trust domain exactly (federated trust domains included).
#   namespaces, service_accounts and their not_* forms describe local workloads only: a source that is not
#   `local` (a federated trust domain) has no namespace or service account for them (T-10, SPIFFE scoping).
# - Paths: a path is ambiguous (ALLOW never matches) if the contract's list is found in the raw path or in
#   the path percent-decoded once (so `%2e%2e` counts), or if it contains `#`, `%25` (double encoding) or
#   does not start with `/`. DENY rules match any of: the raw path, and the normalised forms (cut at `#`;
#   percent-decoded once and, when the raw path holds `%25`, twice; cut at NUL; `\` -> `/`; `;` cut either
#   for the whole path or per segment; `//` merged; dot segments resolved; with and without a trailing `/`
#   when the path ends in `/`, `/.` or `/..`); a path field of a DENY holds when one candidate satisfies its
#   paths and not_paths together. A path with `..` and more than 64 segments is not resolved (the cost is
#   quadratic): every DENY path field holds for it.
# - Headers are read from `headers` or, when Envoy sends `header_map` instead (encode_raw_headers), from its
#   entries of the name joined with `,` as Envoy joins them in `headers`.
# - Hosts: the authority is lowercased, the port cut (`[v6]:port` keeps `[v6]`), all trailing dots removed.
#   An authority with a `,` (several Host headers joined) never matches an ALLOW; a DENY tests the whole and
#   each `,`-separated element.
# - when: values compare exactly (no wildcards). A key is missing when the header, query parameter, claim or
#   context extension is absent, there is no valid JWT, or a claim is not a string or an array of strings,
#   or is an empty array; a missing key is an absent value (above). values and not_values in one condition
#   must both hold.
#   A claim array matches `values` when one element is listed and `not_values` when no element is listed.
#   Several values are ambiguous: an ALLOW never matches them, a DENY fires when one of them does. A
#   repeated query parameter has several values. A header value with a `,` may be several headers Envoy
#   joined with `,`: for an ALLOW it never matches; for a DENY the whole value and each `,`-separated
#   element (optional spaces and tabs trimmed) are its values. (A DENY's not_values thus fires when any
#   of them is not listed.)
# - Allowed by a rule: reason "allowed_by_rule". Several matching rules: `rule` is the smallest name.
package meshwarden.rules

# --- The decision -------------------------------------------------------------------------------------

decision := {
	"allowed": true,
	"dynamic_metadata": {"rule": enforced.rule, "reason": enforced.reason, "shadow_denies": shadow_denies},
} if {
	enforced.allowed
}

decision := {
	"allowed": false,
	"http_status": 403,
	"headers": {"x-ext-authz-reason": enforced.reason},
	"dynamic_metadata": {"rule": enforced.rule, "reason": enforced.reason, "shadow_denies": []},
} if {
	not enforced.allowed
}

# Steps 4-6 (README.md) over the rules with shadow: false.
enforced := {"allowed": false, "rule": min(enforced_deny_names), "reason": "denied_by_rule"} if {
	count(enforced_deny_names) > 0
} else := {"allowed": true, "rule": min(enforced_allow_names), "reason": "allowed_by_rule"} if {
	count(enforced_allow_names) > 0
} else := {"allowed": false, "rule": "default", "reason": "no_allow_rule_matched"} if {
	some [_, false] in allow_rules
} else := {"allowed": true, "rule": "default", "reason": "default_allow"} if {
	data.meshwarden.rules.default_allow == true
} else := {"allowed": false, "rule": "default", "reason": "default_deny"}

# Steps 4-6 (README.md) over all rules, given that the enforced decision allows: the shadow rules that would deny.
shadow_denies := sort({name | some [name, true] in matched_denies}) if {
	count(matched_denies) > 0
} else := sort({name | some [name, true] in allow_rules}) if {
	count(matched_allows) == 0
	count(allow_rules) > 0
} else := []

enforced_deny_names contains name if some [name, false] in matched_denies

enforced_allow_names contains name if some [name, false] in matched_allows

# --- The explanation (entrypoint meshwarden/rules/explain, for `meshwarden rules explain`) ------------------

# The decision, the destination keys looked up, and every rule of the destination: whether it matched and,
# if not, which of its parts did not ("from", "operations", "when", or "ambiguous_path" for an ALLOW).
explain := {
	"decision": decision,
	"destination_keys": sort(destination_keys),
	"path_ambiguous": path_ambiguous_flag,
	"matched": sort({name | some [name, _] in (matched_allows | matched_denies)}),
	"rules": sort(rule_reports), # by action, then matched, then name
	"why": {rule.name: rule_why(rule, kind) | some [rule, kind] in explained_rules},
}

explained_rules contains [rule, "allow"] if some rule in allow_candidates

explained_rules contains [rule, "deny"] if some rule in deny_candidates

# --- Why a rule did not match, in words: the request's value and the rule's list, field by field ------------

rule_why(rule, kind) := sort({message |
	some part in ["ambiguous_path", "from", "operations", "when"]
	not part_holds(rule, kind, part)
	some message in part_why(rule, kind, part)
})

part_why(_, _, "ambiguous_path") := {"the path is ambiguous (dot segments, encoded or doubled slashes, backslashes): no ALLOW rule matches it"}

part_why(rule, kind, "from") := identity_why | {message |
	some i, entry in rule.from
	some field in source_fields(entry)
	not field_matches(field.positive, field.negative, field.value, kind)
	message := field_why(sprintf("from[%d]", [i]), field)
}

part_why(rule, kind, "operations") := {message |
	some i, operation in rule.operations
	some message in operation_why(sprintf("operations[%d]", [i]), operation, kind)
}

part_why(rule, kind, "when") := {message |
	some i, condition in rule.when
	not condition_holds(condition, kind)
	message := sprintf("when[%d]: %s[%s] is not one of %s%s", [i, condition.key, condition.name, list_text(condition.values), excluded_text(condition.not_values)])
}

# A caller whose SPIFFE ID is not accepted, or who has none, is unauthenticated: every identity field fails.
identity_why := {sprintf("trust domain %s not accepted (neither the local trust domain, an alias nor a federated one): the caller %s is unauthenticated", [input.source.trust_domain, input.source.spiffe_id])} if {
	not source_authenticated
	is_string(input.source.spiffe_id)
	is_string(input.source.trust_domain)
} else := {"the caller has no identity (no mTLS principal: a plaintext connection?)"} if {
	not source_authenticated
} else := set()

source_fields(entry) := [
	{"name": "principal", "positive": entry.principals, "negative": entry.not_principals, "value": source_principal},
	{"name": "trust domain", "positive": entry.trust_domains, "negative": entry.not_trust_domains, "value": source_trust_domain},
	{"name": "namespace", "positive": entry.namespaces, "negative": entry.not_namespaces, "value": source_namespace},
	{"name": "service account", "positive": entry.service_accounts, "negative": entry.not_service_accounts, "value": source_service_account},
]

operation_why(where, operation, kind) := ({message |
	some field in [
		{"name": "method", "positive": operation.methods, "negative": operation.not_methods, "value": request_method},
		{"name": "port", "positive": operation.ports, "negative": operation.not_ports, "value": request_port},
	]
	not field_matches(field.positive, field.negative, field.value, kind)
	message := field_why(where, field)
} | {sprintf("%s: host %s not in %s%s", [where, value_text(explained_host), matchers_text(operation.hosts), excluded_matchers_text(operation.not_hosts)]) |
	not hosts_match(operation.hosts, operation.not_hosts, kind)
}) | {sprintf("%s: path %s not in %s%s", [where, value_text(explained_path), matchers_text(operation.paths), excluded_matchers_text(operation.not_paths)]) |
	not paths_match(operation.paths, operation.not_paths, kind)
}

default explained_host := null

explained_host := request_host

default explained_path := null

explained_path := raw_path

field_why(where, field) := sprintf("%s: %s %s is excluded by %s", [where, field.name, value_text(field.value), list_text(field.negative)]) if {
	field.value in field.negative
} else := sprintf("%s: %s %s not in %s", [where, field.name, value_text(field.value), list_text(field.positive)])

value_text(null) := "(none)"

value_text(value) := sprintf("%v", [value]) if value != null

list_text(list) := sprintf("[%s]", [concat(", ", [sprintf("%v", [item]) | some item in list])])

excluded_text(list) := "" if count(list) == 0

else := sprintf(" or is one of the excluded %s", [list_text(list)])

matchers_text(list) := "[any]" if count(list) == 0

else := sprintf("[%s]", [concat(", ", [matcher_text(matcher) | some matcher in list])])

excluded_matchers_text(list) := "" if count(list) == 0

else := sprintf(" or is excluded by [%s]", [concat(", ", [matcher_text(matcher) | some matcher in list])])

matcher_text(matcher) := matcher.exact if is_string(matcher.exact)

matcher_text(matcher) := concat("", [matcher.prefix, "*"]) if is_string(matcher.prefix)

matcher_text(matcher) := concat("", ["*", matcher.suffix]) if is_string(matcher.suffix)

matcher_text(matcher) := "*" if matcher.any == true

path_ambiguous_flag if path_ambiguous

else := false

rule_reports contains rule_report(rule, "allow") if some rule in allow_candidates

rule_reports contains rule_report(rule, "deny") if some rule in deny_candidates

rule_report(rule, kind) := {
	"name": rule.name,
	"action": rule.action,
	"shadow": shadow(rule),
	"matched": count(failed) == 0,
	"not_matched": sort(failed),
} if {
	failed := {part | some part in ["ambiguous_path", "from", "operations", "when"]; not part_holds(rule, kind, part)}
}

part_holds(_, "deny", "ambiguous_path") := true

part_holds(_, "allow", "ambiguous_path") if not path_ambiguous

part_holds(rule, kind, "from") if from_matches(rule.from, kind)

part_holds(rule, kind, "operations") if operations_match(rule.operations, kind)

part_holds(rule, kind, "when") if when_holds(rule.when, kind)

# --- The rules of the destination ---------------------------------------------------------------------

# Keys of the compiled document's by_destination for this request's destination.
destination_keys contains concat("", ["principal:", input.destination.spiffe_id]) if {
	destination_known
	is_string(input.destination.spiffe_id)
}

destination_keys contains concat("", ["namespace:", input.destination.namespace]) if {
	destination_known
	is_string(input.destination.namespace)
}

destination_keys contains concat("", ["service_account:", input.destination.namespace, "/", input.destination.service_account]) if {
	destination_known
	is_string(input.destination.namespace)
	is_string(input.destination.service_account)
}

destination_known if {
	input.destination.authenticated == true
	input.destination.local == true
}

# The destination's rules of each list, computed once: direct lookups by key, then any_destination (a rule
# listed under several keys appears once per key).
allow_candidates := array.concat(keyed_rules("allow"), shared_rules("allow"))

deny_candidates := array.concat(keyed_rules("deny"), shared_rules("deny"))

keyed_rules(list) := [rule |
	some key in destination_keys
	some rule in data.meshwarden.rules.by_destination[key][list]
]

shared_rules(list) := rules if {
	rules := data.meshwarden.rules.any_destination[list]
} else := []

# [name, shadow] of every rule of the destination (a rule listed under several keys counts once).
allow_rules contains [rule.name, shadow(rule)] if some rule in allow_candidates

matched_allows contains [rule.name, shadow(rule)] if {
	some rule in allow_candidates
	rule_matches(rule, "allow")
}

matched_denies contains [rule.name, shadow(rule)] if {
	some rule in deny_candidates
	rule_matches(rule, "deny")
}

shadow(rule) := object.get(rule, "shadow", false) == true

# --- One rule -----------------------------------------------------------------------------------------

# kind is "allow" or "deny": it decides how paths and repeated query parameters are read.
rule_matches(rule, "allow") if {
	rule_body_matches(rule, "allow")
	not path_ambiguous
}

rule_matches(rule, "deny") if rule_body_matches(rule, "deny")

rule_body_matches(rule, kind) if {
	from_matches(rule.from, kind)
	operations_match(rule.operations, kind)
	when_holds(rule.when, kind)
}

from_matches(from, _) if count(from) == 0

from_matches(from, kind) if {
	some entry in from
	source_entry_matches(entry, kind)
}

when_holds(conditions, kind) if {
	every condition in conditions {
		condition_holds(condition, kind)
	}
}

operations_match(operations, _) if count(operations) == 0

operations_match(operations, kind) if {
	some operation in operations
	operation_matches(operation, kind)
}

# --- Sources ------------------------------------------------------------------------------------------

source_entry_matches(entry, kind) if {
	principals_match(entry, kind)
	trust_domains_match(entry, kind)
	namespaces_match(entry, kind)
	service_accounts_match(entry, kind)
}

# Each field is tested only when the entry constrains it, so the request's value is computed only then.
principals_match(entry, kind) if {
	count(entry.principals) == 0
	count(entry.not_principals) == 0
} else := field_matches(entry.principals, entry.not_principals, source_principal, kind)

trust_domains_match(entry, kind) if {
	count(entry.trust_domains) == 0
	count(entry.not_trust_domains) == 0
} else := field_matches(entry.trust_domains, entry.not_trust_domains, source_trust_domain, kind)

namespaces_match(entry, kind) if {
	count(entry.namespaces) == 0
	count(entry.not_namespaces) == 0
} else := field_matches(entry.namespaces, entry.not_namespaces, source_namespace, kind)

service_accounts_match(entry, kind) if {
	count(entry.service_accounts) == 0
	count(entry.not_service_accounts) == 0
} else := field_matches(entry.service_accounts, entry.not_service_accounts, source_service_account, kind)

source_authenticated if {
	input.source.authenticated == true
	is_string(input.source.spiffe_id)
}

source_local if {
	source_authenticated
	input.source.local == true
}

default source_principal := null

source_principal := input.source.spiffe_id if source_authenticated

default source_trust_domain := null

source_trust_domain := input.source.trust_domain if {
	source_authenticated
	is_string(input.source.trust_domain)
}

default source_namespace := null

source_namespace := input.source.namespace if {
	source_local
	is_string(input.source.namespace)
}

default source_service_account := null

source_service_account := concat("/", [input.source.namespace, input.source.service_account]) if {
	source_local
	is_string(input.source.namespace)
	is_string(input.source.service_account)
}

# A pair of positive/negative fields over one value. null (absent) never satisfies a non-empty positive
# field. It satisfies a non-empty negative field only in a DENY rule: a negative condition never turns a
# missing value into an allow, and a DENY fails closed on it (an absent value is not one of those listed).
field_matches(positive, negative, _, _) if {
	count(positive) == 0
	count(negative) == 0
}

field_matches(positive, negative, value, _) if {
	value != null
	listed_or_unconstrained(positive, value)
	not value in negative
}

field_matches(positive, _, null, "deny") if count(positive) == 0

listed_or_unconstrained(list, _) if count(list) == 0

listed_or_unconstrained(list, value) if value in list

# --- Operations ---------------------------------------------------------------------------------------

operation_matches(operation, kind) if {
	methods_match(operation, kind)
	ports_match(operation, kind)
	hosts_match(operation.hosts, operation.not_hosts, kind)
	paths_match(operation.paths, operation.not_paths, kind)
}

methods_match(operation, kind) if {
	count(operation.methods) == 0
	count(operation.not_methods) == 0
} else := field_matches(operation.methods, operation.not_methods, request_method, kind)

ports_match(operation, kind) if {
	count(operation.ports) == 0
	count(operation.not_ports) == 0
} else := field_matches(operation.ports, operation.not_ports, request_port, kind)

default request_method := null

request_method := input.attributes.request.http.method if is_string(input.attributes.request.http.method)

default request_port := null

request_port := input.destination.port if {
	is_number(input.destination.port)
} else := input.attributes.destination.address.socketAddress.portValue if {
	is_number(input.attributes.destination.address.socketAddress.portValue)
}

# Hosts: lowercased, port and trailing dots removed (T-13). An authority with a `,` is several Host headers
# joined (the HTTP listener joins them as Envoy joins headers): an ALLOW never matches it, a DENY tests the
# whole and each element, as for header conditions.
hosts_match(positive, negative, kind) if {
	count(positive) == 0
	count(negative) == 0
} else if {
	some host in request_hosts(kind)
	matchers_allow(positive, host, true)
	not any_matcher(negative, host, true)
} else if {
	kind == "deny"
	count(positive) == 0
	not has_host
}

# (`not is_string(x)` is undefined, not true, when x is undefined: hence these helper rules.)
has_host if is_string(request_host)

request_authority := input.attributes.request.http.host if {
	is_string(input.attributes.request.http.host)
	input.attributes.request.http.host != ""
} else := request_header(":authority") if {
	request_header(":authority") != ""
}

request_host := host_of(request_authority)

host_of(authority) := trim_right(without_port(lower(authority)), ".")

request_hosts("allow") := {request_host} if {
	not contains(request_authority, ",")
} else := set()

request_hosts("deny") := {request_host} if {
	not contains(request_authority, ",")
} else := {host_of(authority) | some authority in array.concat([request_authority], [trim(element, " \t") | some element in split(request_authority, ",")])}

without_port(authority) := concat("", [split(authority, "]")[0], "]"]) if {
	startswith(authority, "[")
	contains(authority, "]")
} else := split(authority, ":")[0]

# Paths: per kind, the candidates a path field is tested against (the same candidate for both fields).
paths_match(positive, negative, kind) if {
	count(positive) == 0
	count(negative) == 0
} else if {
	some path in path_candidates(kind)
	matchers_allow(positive, path, false)
	not any_matcher(negative, path, false)
} else if {
	kind == "deny"
	path_unresolvable
} else if {
	kind == "deny"
	count(positive) == 0
	not has_path
}

has_path if is_string(raw_path)

path_candidates("allow") := allow_paths

# ALLOW rules test the path as sent (when there is one).
allow_paths contains raw_path

path_candidates("deny") := deny_paths

matchers_allow(list, _, _) if count(list) == 0

matchers_allow(list, value, lowercase) if any_matcher(list, value, lowercase)

any_matcher(list, value, lowercase) if {
	some matcher in list
	matcher_matches(matcher, value, lowercase)
}

matcher_matches(matcher, value, lowercase) if value == fold(matcher.exact, lowercase)

matcher_matches(matcher, value, lowercase) if startswith(value, fold(matcher.prefix, lowercase))

matcher_matches(matcher, value, lowercase) if endswith(value, fold(matcher.suffix, lowercase))

matcher_matches(matcher, _, _) if matcher.any == true

fold(text, true) := lower(text)

fold(text, false) := text

# --- The request path (T-11) --------------------------------------------------------------------------

# The raw path before `?`.
raw_path := split(input.attributes.request.http.path, "?")[0] if is_string(input.attributes.request.http.path)

# Percent-decoding with path semantics (`+` stays `+`), in plain Rego: OPA's wasm has no urlquery.decode.
# ASCII escapes are decoded; escapes of bytes 80-FF stay encoded (hex uppercased), and a `%` without two hex
# digits stays as it is (meshwarden answers 400 to such paths before any policy runs).
percent_decode(text) := text if {
	not contains(text, "%")
} else := concat("", array.concat([parts[0]], [decode_escape(part) | some i, part in parts; i > 0])) if {
	parts := split(text, "%")
}

decode_escape(part) := concat("", [ascii_escapes[hex], substring(part, 2, -1)]) if {
	hex := upper(substring(part, 0, 2))
	ascii_escapes[hex]
} else := concat("", ["%", hex, substring(part, 2, -1)]) if {
	hex := upper(substring(part, 0, 2))
	count(hex) == 2
	hex_digit(substring(hex, 0, 1))
	hex_digit(substring(hex, 1, 1))
} else := concat("", ["%", part])

hex_digit(digit) if digit in {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"}

ascii_escapes := {
	"00": "\u0000",
	"01": "\u0001",
	"02": "\u0002",
	"03": "\u0003",
	"04": "\u0004",
	"05": "\u0005",
	"06": "\u0006",
	"07": "\u0007",
	"08": "\b",
	"09": "\t",
	"0A": "\n",
	"0B": "\u000b",
	"0C": "\f",
	"0D": "\r",
	"0E": "\u000e",
	"0F": "\u000f",
	"10": "\u0010",
	"11": "\u0011",
	"12": "\u0012",
	"13": "\u0013",
	"14": "\u0014",
	"15": "\u0015",
	"16": "\u0016",
	"17": "\u0017",
	"18": "\u0018",
	"19": "\u0019",
	"1A": "\u001a",
	"1B": "\u001b",
	"1C": "\u001c",
	"1D": "\u001d",
	"1E": "\u001e",
	"1F": "\u001f",
	"20": " ",
	"21": "!",
	"22": "\"",
	"23": "#",
	"24": "$",
	"25": "%",
	"26": "&",
	"27": "'",
	"28": "(",
	"29": ")",
	"2A": "*",
	"2B": "+",
	"2C": ",",
	"2D": "-",
	"2E": ".",
	"2F": "/",
	"30": "0",
	"31": "1",
	"32": "2",
	"33": "3",
	"34": "4",
	"35": "5",
	"36": "6",
	"37": "7",
	"38": "8",
	"39": "9",
	"3A": ":",
	"3B": ";",
	"3C": "<",
	"3D": "=",
	"3E": ">",
	"3F": "?",
	"40": "@",
	"41": "A",
	"42": "B",
	"43": "C",
	"44": "D",
	"45": "E",
	"46": "F",
	"47": "G",
	"48": "H",
	"49": "I",
	"4A": "J",
	"4B": "K",
	"4C": "L",
	"4D": "M",
	"4E": "N",
	"4F": "O",
	"50": "P",
	"51": "Q",
	"52": "R",
	"53": "S",
	"54": "T",
	"55": "U",
	"56": "V",
	"57": "W",
	"58": "X",
	"59": "Y",
	"5A": "Z",
	"5B": "[",
	"5C": "\\",
	"5D": "]",
	"5E": "^",
	"5F": "_",
	"60": "`",
	"61": "a",
	"62": "b",
	"63": "c",
	"64": "d",
	"65": "e",
	"66": "f",
	"67": "g",
	"68": "h",
	"69": "i",
	"6A": "j",
	"6B": "k",
	"6C": "l",
	"6D": "m",
	"6E": "n",
	"6F": "o",
	"70": "p",
	"71": "q",
	"72": "r",
	"73": "s",
	"74": "t",
	"75": "u",
	"76": "v",
	"77": "w",
	"78": "x",
	"79": "y",
	"7A": "z",
	"7B": "{",
	"7C": "|",
	"7D": "}",
	"7E": "~",
	"7F": "\u007f",
}

decoded_once := percent_decode(raw_path)

path_ambiguous if ambiguous_text(raw_path)

path_ambiguous if {
	contains(raw_path, "%")
	ambiguous_text(decoded_once)
}

path_ambiguous if contains(raw_path, "#")

path_ambiguous if contains(raw_path, "%25")

path_ambiguous if {
	is_string(raw_path)
	not startswith(raw_path, "/")
}

ambiguous_text(path) if {
	some marker in ["%2F", "%2f", "%5C", "%5c", "//", "\\", ";", "%00", "\u0000", "/./", "/../"]
	contains(path, marker)
}

ambiguous_text(path) if endswith(path, "/.")

ambiguous_text(path) if endswith(path, "/..")

# DENY rules test the raw path and every normalised form.
deny_paths contains raw_path

deny_paths contains path if {
	some decoded in decoded_paths
	some variant in semicolon_variants(clean(decoded))
	some path in resolved(variant)
}

decoded_paths contains decoded_first

decoded_paths contains percent_decode(decoded_first) if contains(upper(raw_path), "%25")

decoded_first := percent_decode(split(raw_path, "#")[0])

# Cut at NUL, `\` -> `/`.
clean(path) := replace(split(path, "\u0000")[0], "\\", "/")

semicolon_variants(path) := {path} if {
	not contains(path, ";")
} else := {split(path, ";")[0], concat("/", [split(segment, ";")[0] | some segment in split(path, "/")])}

# Merges `//`, drops `.` segments and resolves `..`; with and without a trailing `/` for directory forms.
resolved(path) := with_trailing(segments, kept) if {
	segments := split(path, "/")
	not dot_dot_in(segments)
	kept := [segment | some segment in segments; plain(segment)]
} else := with_trailing(segments, kept) if {
	segments := split(path, "/")
	count(segments) <= 64
	steps := [step(segment) | some segment in segments]
	sums := [sum(array.slice(steps, 0, k + 1)) | some k, _ in steps]
	kept := [segment | some i, segment in segments; plain(segment); not popped(sums, i)]
}

with_trailing(segments, kept) := {joined(kept), concat("", [joined(kept), "/"])} if {
	directory_form(segments)
	count(kept) > 0
} else := {joined(kept)}

# Too many segments with `..` to resolve cheaply: every DENY path field holds (fail closed).
path_unresolvable if {
	some decoded in decoded_paths
	some variant in semicolon_variants(clean(decoded))
	segments := split(variant, "/")
	count(segments) > 64
	dot_dot_in(segments)
}

dot_dot_in(segments) if ".." in segments

directory_form(segments) if segments[count(segments) - 1] in {"", ".", ".."}

plain(segment) if not segment in {"", ".", ".."}

joined(kept) := concat("/", array.concat([""], kept)) if count(kept) > 0

joined([]) := "/"

step("..") := 1

step(segment) := -1 if plain(segment)

step(segment) := 0 if segment in {"", "."}

# A plain segment is removed by a later `..` when some stretch after it holds more `..` than plain segments:
# with running sums of the steps, when a later running sum exceeds its own.
popped(sums, i) if {
	later := array.slice(sums, i + 1, count(sums))
	count(later) > 0
	max(later) > sums[i]
}

# --- when conditions ----------------------------------------------------------------------------------

# An ALLOW needs one unambiguous value that satisfies the condition: a header value joined from several (a
# `,` in it) or a repeated query parameter never matches, as an ambiguous path never does.
condition_holds(condition, "allow") if {
	values := condition_values(condition, "allow")
	count(values) == 1
	value_satisfies(condition, values[0])
}

# A DENY fires when any of the values does (each element of a joined header, and the whole value).
condition_holds(condition, "deny") if {
	some value in condition_values(condition, "deny")
	value_satisfies(condition, value)
}

# A DENY fails closed on a missing key: it satisfies not_values (and never values).
condition_holds(condition, "deny") if {
	count(condition.values) == 0
	not condition_present(condition)
}

condition_present(condition) if count(condition_values(condition, "deny")) > 0

condition_present(condition) if {
	condition.key == "jwt.claims"
	count(claim_values(condition.name)) > 0
}

# jwt.claims: a claim array is a set of attributes (one listed element matches values; not_values needs none).
condition_holds(condition, _) if {
	condition.key == "jwt.claims"
	values := claim_values(condition.name)
	count(values) > 0
	listed_or_unconstrained_any(condition.values, values)
	not any_listed(condition.not_values, values)
}

value_satisfies(condition, value) if {
	listed_or_unconstrained(condition.values, value)
	not value in condition.not_values
}

listed_or_unconstrained_any(list, _) if count(list) == 0

listed_or_unconstrained_any(list, values) if any_listed(list, values)

any_listed(list, values) if {
	some value in values
	value in list
}

# The values a condition tests, one array per key and kind; undefined when the key is missing.
condition_values(condition, kind) := header_values(value, kind) if {
	condition.key == "request.headers"
	value := request_header(lower(condition.name))
} else := values if {
	condition.key == "request.query"
	values := input.parsed_query[condition.name]
	is_array(values)
	every value in values {
		is_string(value)
	}
} else := [value] if {
	condition.key == "context"
	value := input.attributes.contextExtensions[condition.name]
	is_string(value)
}

# A header's value, by lowercase name: from `headers` (Envoy's default, a repeated header joined with `,`) or,
# when Envoy sends `header_map` instead (`encode_raw_headers`), every entry of that name joined the same way
# (there a repeated header is several entries: each must count, never only the first or last).
request_header(name) := value if {
	value := input.attributes.request.http.headers[name]
	is_string(value)
} else := concat(",", values) if {
	values := [header_entry_value(entry) |
		some entry in input.attributes.request.http.headerMap.headers
		is_string(entry.key)
		lower(entry.key) == name
	]
	count(values) > 0
}

# header_map entries carry `value` or, with encode_raw_headers, `raw_value` (base64 in the input).
header_entry_value(entry) := entry.value if {
	is_string(entry.value)
	entry.value != ""
} else := base64.decode(entry.rawValue) if {
	is_string(entry.rawValue)
} else := ""

# Envoy joins a repeated header's values with `,` (so does the HTTP listener), and one value may hold a `,`
# of its own (a date): the joined text cannot be split back with certainty. For an ALLOW the elements
# between commas: more than one is ambiguous and never matches. For a DENY the whole value and each element
# with its optional whitespace trimmed, so `yes,yes`, `no,yes` and `no, yes` all reach a DENY on `yes`.
header_values(value, "allow") := [value] if {
	not contains(value, ",")
} else := split(value, ",")

header_values(value, "deny") := [value] if {
	not contains(value, ",")
} else := array.concat([value], [trim(element, " \t") | some element in split(value, ",")])

claim_values(name) := [claim] if {
	input.jwt.valid == true
	claim := input.jwt.claims[name]
	is_string(claim)
} else := claim if {
	input.jwt.valid == true
	claim := input.jwt.claims[name]
	is_array(claim)
	every value in claim {
		is_string(value)
	}
}
