package meshwarden.rules_test

import data.meshwarden.rules

# --- Helpers --------------------------------------------------------------------------------------------

# The compiled document is mocked key by key: `with data.meshwarden.rules as …` would also replace the rules
# of the package under test, which lives at the same path.
decide(doc, request) := result if {
	result := rules.decision with data.meshwarden.rules.default_allow as object.get(doc, "default_allow", false)
		with data.meshwarden.rules.by_destination as object.get(doc, "by_destination", {})
		with data.meshwarden.rules.any_destination as object.get(doc, "any_destination", {"allow": [], "deny": []})
		with input as request
}

allowed_by(doc, request, name) if {
	result := decide(doc, request)
	result.allowed == true
	result.dynamic_metadata.rule == name
	not result.http_status
}

denied_by(doc, request, name, reason) if {
	result := decide(doc, request)
	result.allowed == false
	result.http_status == 403
	result.headers == {"x-ext-authz-reason": reason}
	result.dynamic_metadata == {"rule": name, "reason": reason, "shadow_denies": []}
}

# Identity blocks as meshwarden builds them: cluster.local with alias old.example are local, partner.example
# and eu-central.example / us-east.example are federated (authenticated, not local), anything else is refused.
peer(principal) := block if {
	principal == ""
	block := {"principal": "", "spiffe_id": null, "trust_domain": null, "path": null, "namespace": null, "service_account": null, "local": false, "authenticated": false, "via": null}
}

peer(principal) := block if {
	parts := split(principal, "/")
	count(parts) == 7
	parts[0] == "spiffe:"
	parts[3] == "ns"
	parts[5] == "sa"
	local := parts[2] in {"cluster.local", "old.example"}
	accepted := parts[2] in {"cluster.local", "old.example", "partner.example", "eu-central.example", "us-east.example", "cluster.local.evil.com", "other.td"}
	block := {"principal": principal, "spiffe_id": principal, "trust_domain": parts[2], "path": concat("/", ["", "ns", parts[4], "sa", parts[6]]), "namespace": parts[4], "service_account": parts[6], "local": local, "authenticated": accepted, "via": "mtls"}
}

analytics := "spiffe://cluster.local/ns/analytics/sa/analytics"

data_service := "spiffe://cluster.local/ns/data/sa/data"

http_request(source, destination, method, path) := {
	"attributes": {
		"source": {"principal": source},
		"destination": {"principal": destination, "address": {"socketAddress": {"address": "10.0.0.2", "portValue": 8080}}},
		"request": {"http": {"method": method, "path": path, "host": "data.data.svc.cluster.local", "headers": {":authority": "data.data.svc.cluster.local"}}},
	},
	"parsed_query": {},
	"source": peer(source),
	"destination": object.union(peer(destination), {"port": 8080}),
}

request(source, method, path) := http_request(source, data_service, method, path)

# The request of `request` with some fields of attributes.request.http replaced.
with_http(source, method, path, http) := object.union(request(source, method, path), {"attributes": {"request": {"http": http}}})

no_source := {"principals": [], "not_principals": [], "namespaces": [], "not_namespaces": [], "service_accounts": [], "not_service_accounts": [], "trust_domains": [], "not_trust_domains": []}

no_operation := {"methods": [], "not_methods": [], "paths": [], "not_paths": [], "hosts": [], "not_hosts": [], "ports": [], "not_ports": []}

from(fields) := object.union(no_source, fields)

op(fields) := object.union(no_operation, fields)

rule(name, action, fields) := object.union({"name": name, "action": action, "shadow": false, "from": [], "operations": [], "when": []}, fields)

allow(name, fields) := rule(name, "ALLOW", fields)

deny(name, fields) := rule(name, "DENY", fields)

shadowed(r) := object.union(r, {"shadow": true})

for_data(allow_rules, deny_rules) := {"default_allow": false, "by_destination": {"service_account:data/data": {"allow": allow_rules, "deny": deny_rules}}, "any_destination": {"allow": [], "deny": []}}

for_any(allow_rules, deny_rules, default_allow) := {"default_allow": default_allow, "by_destination": {}, "any_destination": {"allow": allow_rules, "deny": deny_rules}}

# --- Scenario 1: regulated data, one reader -------------------------------------------------------------

analytics_reads_data := allow("analytics-reads-data", {
	"from": [from({"principals": [analytics, "spiffe://old.example/ns/analytics/sa/analytics"]})],
	"operations": [op({"methods": ["GET"], "paths": [{"exact": "/api/v1/data"}]})],
})

scenario1 := for_data([analytics_reads_data], [])

test_scenario1_analytics_get_allowed if {
	decide(scenario1, request(analytics, "GET", "/api/v1/data")) == {"allowed": true, "dynamic_metadata": {"rule": "analytics-reads-data", "reason": "allowed_by_rule", "shadow_denies": []}}
}

test_scenario1_trust_domain_alias_allowed if {
	allowed_by(scenario1, request("spiffe://old.example/ns/analytics/sa/analytics", "GET", "/api/v1/data"), "analytics-reads-data")
}

test_scenario1_query_is_not_part_of_the_path if {
	allowed_by(scenario1, request(analytics, "GET", "/api/v1/data?x=/../admin"), "analytics-reads-data")
}

test_scenario1_other_requests_denied if {
	every path in ["/api/v1/admin", "/api/v1/data/../admin", "//api/v1/data", "/api/v1/data%2F..%2Fadmin", "/api/v1/data/", "/api/v1/DATA", "/api/v1/%64ata"] {
		denied_by(scenario1, request(analytics, "GET", path), "default", "no_allow_rule_matched")
	}
	denied_by(scenario1, request(analytics, "POST", "/api/v1/data"), "default", "no_allow_rule_matched")
}

test_scenario1_other_callers_denied if {
	every caller in [
		"spiffe://cluster.local/ns/analytics/sa/default",
		"",
		"spiffe://evil.example/ns/analytics/sa/analytics",
		"spiffe://partner.example/ns/analytics/sa/analytics",
	] {
		denied_by(scenario1, request(caller, "GET", "/api/v1/data"), "default", "no_allow_rule_matched")
	}
}

test_scenario1_identity_headers_ignored if {
	forged := with_http("spiffe://cluster.local/ns/test/sa/default", "GET", "/api/v1/data", {"headers": {
		"x-forwarded-client-cert": concat("", ["By=", data_service, ";URI=", analytics]),
		"x-spiffe-id": analytics,
		"x-envoy-downstream-service-cluster": "analytics",
	}})
	denied_by(scenario1, forged, "default", "no_allow_rule_matched")
}

# --- Scenario 2: default deny with named exceptions ------------------------------------------------------

scenario2 := {"default_allow": false, "by_destination": {"namespace:prop": {
	"allow": [allow("frontend-calls-prop", {
		"from": [from({"service_accounts": ["frontend/frontend"]})],
		"operations": [op({"paths": [{"prefix": "/api/"}]})],
	})],
	"deny": [],
}}}

test_scenario2_frontend_allowed if {
	allowed_by(scenario2, http_request("spiffe://cluster.local/ns/frontend/sa/frontend", "spiffe://cluster.local/ns/prop/sa/prop", "POST", "/api/orders"), "frontend-calls-prop")
}

test_scenario2_others_denied if {
	denied_by(scenario2, http_request("spiffe://cluster.local/ns/frontend/sa/default", "spiffe://cluster.local/ns/prop/sa/prop", "GET", "/api/orders"), "default", "no_allow_rule_matched")
	denied_by(scenario2, http_request("spiffe://cluster.local/ns/frontend/sa/frontend", "spiffe://cluster.local/ns/prop/sa/prop", "GET", "/metrics"), "default", "no_allow_rule_matched")
}

test_scenario2_new_service_default_denied if {
	denied_by(scenario2, http_request("spiffe://cluster.local/ns/frontend/sa/frontend", "spiffe://cluster.local/ns/new/sa/new", "GET", "/api/orders"), "default", "default_deny")
}

# --- Scenario 3: callers from one trust domain -----------------------------------------------------------

scenario3 := for_data([allow("eu-only", {"from": [from({"trust_domains": ["eu-central.example"]})]})], [])

test_scenario3_eu_caller_allowed if {
	allowed_by(scenario3, request("spiffe://eu-central.example/ns/analytics/sa/analytics", "GET", "/api/v1/data"), "eu-only")
}

test_scenario3_other_trust_domains_denied if {
	every caller in [
		"spiffe://us-east.example/ns/analytics/sa/analytics",
		analytics,
		"",
		"spiffe://eu-central.example.evil.com/ns/analytics/sa/analytics",
	] {
		denied_by(scenario3, request(caller, "GET", "/api/v1/data"), "default", "no_allow_rule_matched")
	}
}

test_not_trust_domains if {
	doc := for_data([allow("not-us", {"from": [from({"not_trust_domains": ["us-east.example"]})]})], [])
	allowed_by(doc, request("spiffe://eu-central.example/ns/a/sa/a", "GET", "/"), "not-us")
	allowed_by(doc, request(analytics, "GET", "/"), "not-us")
	denied_by(doc, request("spiffe://us-east.example/ns/a/sa/a", "GET", "/"), "default", "no_allow_rule_matched")
	denied_by(doc, request("", "GET", "/"), "default", "no_allow_rule_matched")
}

# --- Scenario 4: service-to-service, authentication required --------------------------------------------

scenario4 := {"default_allow": false, "by_destination": {"principal:spiffe://cluster.local/ns/b/sa/service-b": {"allow": [allow("a-calls-b", {"from": [from({"principals": ["spiffe://cluster.local/ns/a/sa/service-a"]})]})], "deny": []}}}

test_scenario4_authenticated_caller_allowed if {
	allowed_by(scenario4, http_request("spiffe://cluster.local/ns/a/sa/service-a", "spiffe://cluster.local/ns/b/sa/service-b", "GET", "/"), "a-calls-b")
}

test_scenario4_unauthenticated_caller_denied if {
	plaintext := http_request("", "spiffe://cluster.local/ns/b/sa/service-b", "GET", "/")
	denied_by(scenario4, plaintext, "default", "no_allow_rule_matched")

	# A principal that did not pass meshwarden's checks: the raw string is never compared.
	malformed := object.union(http_request("spiffe://cluster.local/ns/a/sa/service-a", "spiffe://cluster.local/ns/b/sa/service-b", "GET", "/"), {"source": {"authenticated": false}})
	denied_by(scenario4, malformed, "default", "no_allow_rule_matched")
}

# --- Scenario 5: shadow rollout ----------------------------------------------------------------------------

new_deny := shadowed(deny("block-admin", {"operations": [op({"paths": [{"prefix": "/admin"}]})]}))

everyone := allow("everyone", {})

test_scenario5_shadow_deny_passes_and_is_named if {
	decide(for_data([everyone], [new_deny]), request(analytics, "GET", "/admin/x")) == {"allowed": true, "dynamic_metadata": {"rule": "everyone", "reason": "allowed_by_rule", "shadow_denies": ["block-admin"]}}
}

test_scenario5_shadow_deny_not_matching if {
	decide(for_data([everyone], [new_deny]), request(analytics, "GET", "/public")).dynamic_metadata.shadow_denies == []
}

test_scenario5_enforced_deny_wins if {
	doc := for_data([everyone], [new_deny, deny("enforced-admin", {"operations": [op({"paths": [{"prefix": "/admin"}]})]})])
	denied_by(doc, request(analytics, "GET", "/admin"), "enforced-admin", "denied_by_rule")
}

test_scenario5_shadow_deny_under_default_allow if {
	doc := for_any([], [new_deny, shadowed(deny("block-all-admin", {"operations": [op({"paths": [{"exact": "/admin"}]})]}))], true)
	decide(doc, request(analytics, "GET", "/admin")) == {"allowed": true, "dynamic_metadata": {"rule": "default", "reason": "default_allow", "shadow_denies": ["block-admin", "block-all-admin"]}}
}

test_shadow_allow_would_deny if {
	doc := {"default_allow": true, "by_destination": {"service_account:data/data": {"allow": [shadowed(allow("only-analytics", {"from": [from({"principals": [analytics]})]}))], "deny": []}}}
	decide(doc, request("spiffe://cluster.local/ns/other/sa/other", "GET", "/")) == {"allowed": true, "dynamic_metadata": {"rule": "default", "reason": "default_allow", "shadow_denies": ["only-analytics"]}}
	decide(doc, request(analytics, "GET", "/")) == {"allowed": true, "dynamic_metadata": {"rule": "default", "reason": "default_allow", "shadow_denies": []}}
}

test_shadow_allow_does_not_count_for_enforcement if {
	only_shadow := for_data([shadowed(allow("only-analytics", {"from": [from({"principals": [analytics]})]}))], [])
	denied_by(only_shadow, request(analytics, "GET", "/"), "default", "default_deny")
	with_enforced := for_data([shadowed(everyone), allow("only-analytics", {"from": [from({"principals": [analytics]})]})], [])
	denied_by(with_enforced, request("spiffe://cluster.local/ns/other/sa/other", "GET", "/"), "default", "no_allow_rule_matched")
	allowed_by(with_enforced, request(analytics, "GET", "/"), "only-analytics")
	decide(with_enforced, request(analytics, "GET", "/")).dynamic_metadata.shadow_denies == []
}

# --- T-02: missing identity and negative fields -------------------------------------------------------------

test_t02_unauthenticated_never_matches_negative_fields if {
	every field in ["not_principals", "not_namespaces", "not_service_accounts", "not_trust_domains"] {
		doc := for_data([allow("not-blocked", {"from": [from({field: ["spiffe://cluster.local/ns/blocked/sa/blocked", "blocked", "blocked/blocked", "blocked.example"]})]})], [])
		denied_by(doc, request("", "GET", "/"), "default", "no_allow_rule_matched")
		denied_by(doc, object.union(request(analytics, "GET", "/"), {"source": {"authenticated": false}}), "default", "no_allow_rule_matched")
		allowed_by(doc, request(analytics, "GET", "/"), "not-blocked")
	}
}

test_t02_missing_source_block if {
	doc := for_data([allow("not-blocked", {"from": [from({"not_namespaces": ["blocked"]})]})], [])
	denied_by(doc, object.remove(request(analytics, "GET", "/"), ["source"]), "default", "no_allow_rule_matched")
}

test_t02_negative_deny_fails_closed_on_a_missing_identity if {
	# A DENY with only not_* identity fields fires on a source without an identity: a plaintext caller is not
	# in namespace frontend (Istio's DENY notPrincipals ["*"] idiom), and neither is a federated one.
	every field_value in [["not_namespaces", "frontend"], ["not_service_accounts", "frontend/web"], ["not_principals", "spiffe://cluster.local/ns/frontend/sa/web"]] {
		doc := for_any([], [deny("mesh-only", {"from": [from({field_value[0]: [field_value[1]]})]})], true)
		denied_by(doc, request("", "GET", "/"), "mesh-only", "denied_by_rule")
		denied_by(doc, object.union(request("spiffe://cluster.local/ns/frontend/sa/web", "GET", "/"), {"source": {"authenticated": false}}), "mesh-only", "denied_by_rule")
		denied_by(doc, object.remove(request(analytics, "GET", "/"), ["source"]), "mesh-only", "denied_by_rule")
		denied_by(doc, request("spiffe://cluster.local/ns/other/sa/other", "GET", "/"), "mesh-only", "denied_by_rule")
		allowed_by(doc, request("spiffe://cluster.local/ns/frontend/sa/web", "GET", "/"), "default")
	}
	federated := for_any([], [deny("mesh-only", {"from": [from({"not_namespaces": ["frontend"]})]})], true)
	denied_by(federated, request("spiffe://partner.example/ns/frontend/sa/web", "GET", "/"), "mesh-only", "denied_by_rule")
	local_only := for_any([], [deny("local-only", {"from": [from({"not_trust_domains": ["cluster.local", "old.example"]})]})], true)
	denied_by(local_only, request("", "GET", "/"), "local-only", "denied_by_rule")
	denied_by(local_only, request("spiffe://partner.example/ns/frontend/sa/web", "GET", "/"), "local-only", "denied_by_rule")
	allowed_by(local_only, request("spiffe://old.example/ns/frontend/sa/web", "GET", "/"), "default")
}

test_t02_positive_deny_needs_an_identity if {
	# A positive identity field never matches a missing identity, in a DENY rule too.
	doc := for_any([], [deny("no-frontend", {"from": [from({"namespaces": ["frontend"], "not_principals": [analytics]})]})], true)
	allowed_by(doc, request("", "GET", "/"), "default")
	denied_by(doc, request("spiffe://cluster.local/ns/frontend/sa/web", "GET", "/"), "no-frontend", "denied_by_rule")
}

test_entry_without_identity_fields_matches_everyone if {
	doc := for_data([allow("health", {"from": [from({})], "operations": [op({"paths": [{"exact": "/healthz"}]})]})], [])
	allowed_by(doc, request("", "GET", "/healthz"), "health")
}

test_from_entries_or_fields_and if {
	doc := for_data(
		[allow("two", {"from": [
			from({"namespaces": ["a"], "service_accounts": ["a/reader"]}),
			from({"principals": ["spiffe://cluster.local/ns/b/sa/b"]}),
		]})],
		[],
	)
	allowed_by(doc, request("spiffe://cluster.local/ns/a/sa/reader", "GET", "/"), "two")
	allowed_by(doc, request("spiffe://cluster.local/ns/b/sa/b", "GET", "/"), "two")
	denied_by(doc, request("spiffe://cluster.local/ns/a/sa/writer", "GET", "/"), "default", "no_allow_rule_matched")
}

# --- T-10: lookalikes ---------------------------------------------------------------------------------------

test_t10_principal_lookalikes if {
	doc := for_data([allow("prod-api", {"from": [from({"principals": ["spiffe://cluster.local/ns/prod/sa/api"]})]})], [])
	allowed_by(doc, request("spiffe://cluster.local/ns/prod/sa/api", "GET", "/"), "prod-api")
	every caller in [
		"spiffe://cluster.local/ns/production/sa/api",
		"spiffe://cluster.local/ns/prod-x/sa/api",
		"spiffe://cluster.local/ns/prod/sa/api-x",
		"spiffe://cluster.local.evil.com/ns/prod/sa/api",
		"spiffe://other.td/ns/prod/sa/api",
		"spiffe://other.td/ns/prod/sa/admin",
	] {
		denied_by(doc, request(caller, "GET", "/"), "default", "no_allow_rule_matched")
	}
}

test_t10_namespace_and_service_account_lookalikes if {
	doc := for_data([allow("prod", {"from": [from({"namespaces": ["prod"]}), from({"service_accounts": ["ops/admin"]})]})], [])
	allowed_by(doc, request("spiffe://cluster.local/ns/prod/sa/anything", "GET", "/"), "prod")
	allowed_by(doc, request("spiffe://old.example/ns/prod/sa/anything", "GET", "/"), "prod")
	allowed_by(doc, request("spiffe://cluster.local/ns/ops/sa/admin", "GET", "/"), "prod")
	every caller in [
		"spiffe://cluster.local/ns/production/sa/a",
		"spiffe://cluster.local/ns/prod-x/sa/a",
		"spiffe://cluster.local/ns/ops/sa/admin-x",
		"spiffe://cluster.local/ns/ops-x/sa/admin",
		"spiffe://cluster.local.evil.com/ns/prod/sa/a",
		"spiffe://other.td/ns/prod/sa/a",
		"spiffe://partner.example/ns/ops/sa/admin",
	] {
		denied_by(doc, request(caller, "GET", "/"), "default", "no_allow_rule_matched")
	}
}

test_t10_trust_domain_lookalikes if {
	doc := for_data([allow("local", {"from": [from({"trust_domains": ["cluster.local", "old.example"]})]})], [])
	allowed_by(doc, request(analytics, "GET", "/"), "local")
	denied_by(doc, request("spiffe://cluster.local.evil.com/ns/analytics/sa/analytics", "GET", "/"), "default", "no_allow_rule_matched")
}

test_t10_foreign_namespace_not_in_negative_fields if {
	# not_namespaces describes local workloads: a federated source is not a local workload at all, so it
	# satisfies no ALLOW through not_namespaces, and a DENY with not_namespaces fires on it.
	doc := for_data([allow("not-blocked", {"from": [from({"not_namespaces": ["blocked"]})]})], [])
	denied_by(doc, request("spiffe://partner.example/ns/anything/sa/a", "GET", "/"), "default", "no_allow_rule_matched")
	deny_doc := for_any([], [deny("local-only", {"from": [from({"not_namespaces": ["anything"]})]})], true)
	denied_by(deny_doc, request("spiffe://partner.example/ns/anything/sa/a", "GET", "/"), "local-only", "denied_by_rule")
	allowed_by(deny_doc, request("spiffe://cluster.local/ns/anything/sa/a", "GET", "/"), "default")
}

# --- T-11: path tricks --------------------------------------------------------------------------------------

public_prefix := for_data([allow("public", {"operations": [op({"paths": [{"prefix": "/public"}]})]})], [])

test_t11_allow_prefix_plain_paths if {
	# Dots inside a segment are not dot segments.
	every path in ["/public", "/public/x", "/public/x?y=/../admin", "/public/a%20b", "/public/a+b", "/public/.well-known/x", "/public/.b", "/public/...", "/public/a.", "/public/a..", "/public/v1.2/x", "/public/%2e%2e%2e", "/public/a%2e"] {
		allowed_by(public_prefix, request(analytics, "GET", path), "public")
	}
}

test_t11_allow_prefix_never_matches_ambiguous_paths if {
	every path in [
		"/public/../admin",
		"/public/./admin",
		"/public/..",
		"/public/.",
		"//public",
		"/public//x",
		"/public%2Fx",
		"/public%2fx",
		"/public%5cx",
		"/public%5Cx",
		"/public\\..\\admin",
		"/public;x=1",
		"/public#f",
		"/public%00",
		"/public/%2e%2e/admin",
		"/public/%2E./admin",
		"/public/%252e%252e/admin",
		"/public/%2e",
		"/public/%2E%2E",
		"/public/x/.%2e",
		"/public%252Fx",
		"public",
	] {
		denied_by(public_prefix, request(analytics, "GET", path), "default", "no_allow_rule_matched")
	}
}

test_t11_ambiguous_paths_never_match_any_allow if {
	# Even a rule without path fields.
	denied_by(for_data([everyone], []), request(analytics, "GET", "/a//b"), "default", "no_allow_rule_matched")
}

deny_admin := for_any([], [deny("no-admin", {"operations": [op({"paths": [{"prefix": "/admin"}]})]})], true)

test_t11_deny_prefix_catches_every_trick if {
	every path in [
		"/admin",
		"/admin/x",
		"/public/../admin",
		"/public/%2e%2e/admin",
		"/public%2F..%2Fadmin",
		"/public/x/..%2F..%2Fadmin",
		"//admin",
		"/./admin",
		"/%61dmin",
		"/%2561dmin",
		"/admin%2Fx",
		"/admin%5cx",
		"\\admin",
		"/public\\..\\admin",
		"/admin;x=1",
		"/public/..;/admin",
		"/admin#f",
		"/admin%00",
		"/admin/",
		"/admin/../public",
		"/admin?x=1",
	] {
		denied_by(deny_admin, request(analytics, "GET", path), "no-admin", "denied_by_rule")
	}
}

test_t11_deny_is_case_sensitive_and_leaves_other_paths if {
	every path in ["/ADMIN", "/public", "/public/admin", "/public?x=/admin", "/ad%6Din/../../public"] {
		allowed_by(deny_admin, request(analytics, "GET", path), "default")
	}
}

test_t11_deny_exact_normalised if {
	doc := for_any([], [deny("no-secret", {"operations": [op({"paths": [{"exact": "/admin/secret"}]})]})], true)
	every path in ["/admin/secret", "/admin;x/secret", "/admin/secret/", "/admin/secret/.", "/admin/secret/x/..", "/admin//secret", "/admin/./secret", "/x/../admin/secret", "/admin/%73ecret"] {
		denied_by(doc, request(analytics, "GET", path), "no-secret", "denied_by_rule")
	}
	allowed_by(doc, request(analytics, "GET", "/admin/secrets"), "default")
}

test_t11_deny_exact_directory_form if {
	doc := for_any([], [deny("no-dir", {"operations": [op({"paths": [{"exact": "/admin/"}]})]})], true)
	denied_by(doc, request(analytics, "GET", "/admin/x/.."), "no-dir", "denied_by_rule")
	denied_by(doc, request(analytics, "GET", "/admin//"), "no-dir", "denied_by_rule")
	allowed_by(doc, request(analytics, "GET", "/admin"), "default")
}

test_t11_deny_not_paths_uses_normalised_path if {
	doc := for_any([], [deny("public-only", {"operations": [op({"not_paths": [{"prefix": "/public/"}]})]})], true)
	allowed_by(doc, request(analytics, "GET", "/public/x"), "default")
	denied_by(doc, request(analytics, "GET", "/public/../admin"), "public-only", "denied_by_rule")
	denied_by(doc, request(analytics, "GET", "/public/%2e%2e/admin"), "public-only", "denied_by_rule")
}

test_t11_unresolvable_path_satisfies_deny if {
	long := concat("", array.concat(["/a" | some _ in numbers.range(1, 70)], ["/../.."]))
	doc := for_any([], [deny("no-admin", {"operations": [op({"paths": [{"exact": "/admin"}]})]})], true)
	denied_by(doc, request(analytics, "GET", long), "no-admin", "denied_by_rule")
	long_semicolons := concat("", array.concat(["/a" | some _ in numbers.range(1, 70)], ["/..;x/..;/admin"]))
	denied_by(doc, request(analytics, "GET", long_semicolons), "no-admin", "denied_by_rule")
	allowed_by(doc, request(analytics, "GET", concat("", ["/a" | some _ in numbers.range(1, 70)])), "default")
}

test_path_matchers if {
	doc := for_data(
		[
			allow("exact", {"operations": [op({"paths": [{"exact": "/e"}]})]}),
			allow("prefix", {"operations": [op({"paths": [{"prefix": "/p/"}]})]}),
			allow("suffix", {"operations": [op({"paths": [{"suffix": ".css"}]})]}),
		],
		[],
	)
	allowed_by(doc, request(analytics, "GET", "/e"), "exact")
	allowed_by(doc, request(analytics, "GET", "/p/x"), "prefix")
	allowed_by(doc, request(analytics, "GET", "/x/y.css?v=1"), "suffix")
	every path in ["/e/", "/ex", "/p", "/x/y.css/z"] {
		denied_by(doc, request(analytics, "GET", path), "default", "no_allow_rule_matched")
	}
	any_path := for_data([allow("any", {"operations": [op({"paths": [{"any": true}]})]})], [])
	allowed_by(any_path, request(analytics, "GET", "/whatever"), "any")
}

# --- T-13: hosts --------------------------------------------------------------------------------------------

admin_host := for_data([allow("admin-host", {"operations": [op({"hosts": [{"exact": "admin.example.com"}]})]})], [])

test_t13_host_tricks_match_allow if {
	every host in ["admin.example.com", "Admin.Example.COM", "admin.example.com:443", "admin.example.com.", "ADMIN.example.com.:8443"] {
		allowed_by(admin_host, with_http(analytics, "GET", "/", {"host": host}), "admin-host")
	}
}

test_t13_host_lookalikes_denied if {
	every host in ["admin.example.com.evil", "xadmin.example.com", "admin.example.co", ""] {
		denied_by(admin_host, with_http(analytics, "GET", "/", {"host": host, "headers": {}}), "default", "no_allow_rule_matched")
	}
}

test_t13_authority_header_fallback if {
	request_without_host := json.remove(with_http(analytics, "GET", "/", {"headers": {":authority": "ADMIN.example.com:80"}}), ["attributes/request/http/host"])
	allowed_by(admin_host, request_without_host, "admin-host")
}

test_t13_host_tricks_denied_by_deny if {
	doc := for_any([], [deny("no-admin-host", {"operations": [op({"hosts": [{"exact": "admin.example.com"}]})]})], true)
	every host in ["admin.example.com", "Admin.Example.COM", "admin.example.com:443", "admin.example.com.", "admin.example.com..:1"] {
		denied_by(doc, with_http(analytics, "GET", "/", {"host": host}), "no-admin-host", "denied_by_rule")
	}
	allowed_by(doc, with_http(analytics, "GET", "/", {"host": "www.example.com"}), "default")
}

# Two Host headers arrive joined with `,` (HTTP mode joins them as Envoy joins any header).
test_t13_joined_hosts if {
	deny_doc := for_any([], [deny("no-admin-host", {"operations": [op({"hosts": [{"exact": "admin.example.com"}]})]})], true)
	every host in ["www.example.com,admin.example.com", "admin.example.com,www.example.com", "www.example.com, Admin.Example.com:443"] {
		denied_by(deny_doc, with_http(analytics, "GET", "/", {"host": host}), "no-admin-host", "denied_by_rule")
	}
	allowed_by(deny_doc, with_http(analytics, "GET", "/", {"host": "www.example.com,api.example.com"}), "default")

	suffix := for_data([allow("suffix", {"operations": [op({"hosts": [{"suffix": ".svc.cluster.local"}]})]})], [])
	allowed_by(suffix, with_http(analytics, "GET", "/", {"host": "data.svc.cluster.local"}), "suffix")
	every host in ["evil.example,data.svc.cluster.local", "data.svc.cluster.local,data.svc.cluster.local"] {
		denied_by(suffix, with_http(analytics, "GET", "/", {"host": host}), "default", "no_allow_rule_matched")
		denied_by(admin_host, with_http(analytics, "GET", "/", {"host": host}), "default", "no_allow_rule_matched")
	}
	denied_by(admin_host, with_http(analytics, "GET", "/", {"host": "admin.example.com,admin.example.com"}), "default", "no_allow_rule_matched")

	# A not_hosts DENY fires when any element is not excluded.
	only_www := for_any([], [deny("only-www", {"operations": [op({"not_hosts": [{"exact": "www.example.com"}]})]})], true)
	allowed_by(only_www, with_http(analytics, "GET", "/", {"host": "www.example.com"}), "default")
	denied_by(only_www, with_http(analytics, "GET", "/", {"host": "www.example.com,admin.example.com"}), "only-www", "denied_by_rule")
}

test_host_matchers if {
	doc := for_data([allow("suffix", {"operations": [op({"hosts": [{"suffix": ".svc.cluster.local"}], "not_hosts": [{"prefix": "secret."}]})]})], [])
	allowed_by(doc, with_http(analytics, "GET", "/", {"host": "Data.Data.SVC.cluster.local:8080"}), "suffix")
	denied_by(doc, with_http(analytics, "GET", "/", {"host": "secret.data.svc.cluster.local"}), "default", "no_allow_rule_matched")
	ipv6 := for_data([allow("v6", {"operations": [op({"hosts": [{"exact": "[::1]"}]})]})], [])
	allowed_by(ipv6, with_http(analytics, "GET", "/", {"host": "[::1]:8080"}), "v6")
}

# --- Ports and methods ----------------------------------------------------------------------------------------

port_fallback(port) := object.union(json.remove(request(analytics, "GET", "/"), ["destination/port"]), {"attributes": {"destination": {"address": {"socketAddress": {"portValue": port}}}}})

test_ports if {
	doc := for_data([allow("port-8080", {"operations": [op({"ports": [8080]})]})], [])
	allowed_by(doc, request(analytics, "GET", "/"), "port-8080")
	denied_by(doc, object.union(request(analytics, "GET", "/"), {"destination": {"port": 9090}}), "default", "no_allow_rule_matched")

	# Without input.destination.port, the socket address Envoy reports.
	allowed_by(doc, port_fallback(8080), "port-8080")
	denied_by(doc, port_fallback(9090), "default", "no_allow_rule_matched")
	no_port := json.remove(request(analytics, "GET", "/"), ["destination/port", "attributes/destination/address"])
	denied_by(doc, no_port, "default", "no_allow_rule_matched")
	not_port := for_any([allow("not-9090", {"operations": [op({"not_ports": [9090]})]})], [], false)
	allowed_by(not_port, port_fallback(8081), "not-9090")
	denied_by(not_port, port_fallback(9090), "default", "no_allow_rule_matched")
	denied_by(not_port, no_port, "default", "no_allow_rule_matched")
}

test_methods_exact if {
	doc := for_data([allow("reads", {"operations": [op({"methods": ["GET", "HEAD"]})]})], [])
	allowed_by(doc, request(analytics, "HEAD", "/"), "reads")
	denied_by(doc, request(analytics, "get", "/"), "default", "no_allow_rule_matched")
	denied_by(doc, request(analytics, "POST", "/"), "default", "no_allow_rule_matched")
	not_delete := for_data([allow("no-delete", {"operations": [op({"not_methods": ["DELETE"]})]})], [])
	allowed_by(not_delete, request(analytics, "POST", "/"), "no-delete")
	denied_by(not_delete, request(analytics, "DELETE", "/"), "default", "no_allow_rule_matched")
}

test_operations_entries_or_fields_and if {
	doc := for_data(
		[allow("ops", {"operations": [
			op({"methods": ["GET"], "paths": [{"prefix": "/read/"}]}),
			op({"methods": ["POST"], "paths": [{"exact": "/write"}]}),
		]})],
		[],
	)
	allowed_by(doc, request(analytics, "GET", "/read/x"), "ops")
	allowed_by(doc, request(analytics, "POST", "/write"), "ops")
	denied_by(doc, request(analytics, "POST", "/read/x"), "default", "no_allow_rule_matched")
}

test_tcp_check_without_http if {
	tcp := json.remove(request(analytics, "GET", "/"), ["attributes/request"])
	identity_only := for_data([allow("identity", {"from": [from({"principals": [analytics]})]})], [])
	allowed_by(identity_only, tcp, "identity")
	every operation in [op({"paths": [{"any": true}]}), op({"not_paths": [{"exact": "/x"}]}), op({"methods": ["GET"]}), op({"not_methods": ["GET"]}), op({"hosts": [{"any": true}]})] {
		denied_by(for_data([allow("http", {"operations": [operation]})], []), tcp, "default", "no_allow_rule_matched")
	}

	# A DENY: a negative field holds for the absent attribute (fail closed), a positive one does not.
	every operation in [op({"not_paths": [{"exact": "/x"}]}), op({"not_methods": ["GET"]}), op({"not_hosts": [{"exact": "data.data.svc.cluster.local"}]})] {
		denied_by(for_any([], [deny("http", {"operations": [operation]})], true), tcp, "http", "denied_by_rule")
	}
	every operation in [op({"paths": [{"any": true}]}), op({"methods": ["GET"]}), op({"hosts": [{"any": true}]}), op({"methods": ["GET"], "not_paths": [{"exact": "/x"}]})] {
		allowed_by(for_any([], [deny("http", {"operations": [operation]})], true), tcp, "default")
	}
	no_port := json.remove(tcp, ["destination/port", "attributes/destination/address"])
	denied_by(for_any([], [deny("port", {"operations": [op({"not_ports": [8080]})]})], true), no_port, "port", "denied_by_rule")
	allowed_by(for_any([], [deny("port", {"operations": [op({"ports": [8080]})]})], true), no_port, "default")
}

# --- when conditions ----------------------------------------------------------------------------------------

when_doc(conditions) := for_data([allow("when", {"when": conditions})], [])

jwt_request(claims, valid) := object.union(request(analytics, "GET", "/"), {"jwt": {"valid": valid, "issuer": "https://login.example.com", "claims": claims}})

condition(key, name, values, not_values) := {"key": key, "name": name, "values": values, "not_values": not_values}

test_when_request_headers if {
	doc := when_doc([condition("request.headers", "X-Team", ["blue"], [])])
	allowed_by(doc, with_http(analytics, "GET", "/", {"headers": {"x-team": "blue"}}), "when")
	denied_by(doc, with_http(analytics, "GET", "/", {"headers": {"x-team": "red"}}), "default", "no_allow_rule_matched")
	denied_by(doc, with_http(analytics, "GET", "/", {"headers": {"x-team": "blue,red"}}), "default", "no_allow_rule_matched")
	denied_by(doc, request(analytics, "GET", "/"), "default", "no_allow_rule_matched")
}

# Envoy (and the HTTP listener) join a repeated header with `,`: `x-block: yes` sent twice arrives as `yes,yes`.
test_when_repeated_header_reaches_a_deny if {
	deny_doc := for_any([], [deny("blocked", {"when": [condition("request.headers", "x-block", ["yes"], [])]})], true)
	every value in ["yes", "yes,yes", "no,yes", "yes,no", "no, yes", "no,\tyes", "a,b,  yes  ,c", ",yes"] {
		denied_by(deny_doc, with_http(analytics, "GET", "/", {"headers": {"x-block": value}}), "blocked", "denied_by_rule")
	}
	every value in ["no", "no,no", "yesno", "no,yess", "y,es", ""] {
		allowed_by(deny_doc, with_http(analytics, "GET", "/", {"headers": {"x-block": value}}), "default")
	}

	# A value that holds a `,` of its own is still matched whole by a DENY.
	dated := for_any([], [deny("dated", {"when": [condition("request.headers", "x-date", ["Tue, 01 Dec 2026"], [])]})], true)
	denied_by(dated, with_http(analytics, "GET", "/", {"headers": {"x-date": "Tue, 01 Dec 2026"}}), "dated", "denied_by_rule")

	# not_values: the DENY fires when any element (or the whole value) is not listed.
	only_blue := for_any([], [deny("only-blue", {"when": [condition("request.headers", "x-team", [], ["blue"])]})], true)
	allowed_by(only_blue, with_http(analytics, "GET", "/", {"headers": {"x-team": "blue"}}), "default")
	every value in ["blue,red", "red,blue", "blue, red", "blue,blue", "blue,"] {
		denied_by(only_blue, with_http(analytics, "GET", "/", {"headers": {"x-team": value}}), "only-blue", "denied_by_rule")
	}
}

# With encode_raw_headers Envoy sends header_map (a repeated header as several entries) and no headers.
with_header_map(entries) := json.remove(
	object.union(request(analytics, "GET", "/"), {"attributes": {"request": {"http": {"headerMap": {"headers": entries}}}}}),
	["attributes/request/http/headers"],
)

test_when_header_map_entries_count_each if {
	deny_doc := for_any([], [deny("blocked", {"when": [condition("request.headers", "x-block", ["yes"], [])]})], true)
	every entries in [
		[{"key": "x-block", "value": "yes"}],
		[{"key": "x-block", "value": "no"}, {"key": "x-block", "value": "yes"}],
		[{"key": "X-Block", "rawValue": base64.encode("yes")}],
		[{"key": "x-block", "rawValue": base64.encode("no")}, {"key": "x-block", "rawValue": base64.encode("yes")}],
	] {
		denied_by(deny_doc, with_header_map(entries), "blocked", "denied_by_rule")
	}
	allowed_by(deny_doc, with_header_map([{"key": "x-block", "value": "no"}, {"key": "x-other", "value": "yes"}]), "default")

	doc := when_doc([condition("request.headers", "x-team", ["blue"], [])])
	allowed_by(doc, with_header_map([{"key": "x-team", "value": "blue"}]), "when")
	allowed_by(doc, with_header_map([{"key": "x-team", "rawValue": base64.encode("blue")}]), "when")
	denied_by(doc, with_header_map([{"key": "x-team", "value": "blue"}, {"key": "x-team", "value": "blue"}]), "default", "no_allow_rule_matched")
}

test_when_joined_header_never_matches_an_allow if {
	doc := when_doc([condition("request.headers", "x-team", ["blue"], [])])
	every value in ["blue,blue", "blue, blue", "blue,", ",blue", "red,blue"] {
		denied_by(doc, with_http(analytics, "GET", "/", {"headers": {"x-team": value}}), "default", "no_allow_rule_matched")
	}
	not_red := when_doc([condition("request.headers", "x-team", [], ["red"])])
	allowed_by(not_red, with_http(analytics, "GET", "/", {"headers": {"x-team": "blue"}}), "when")
	every value in ["blue,red", "red,blue", "blue,blue", "red, "] {
		denied_by(not_red, with_http(analytics, "GET", "/", {"headers": {"x-team": value}}), "default", "no_allow_rule_matched")
	}

	# A listed value with a `,` of its own can never be told apart from joined headers: it never matches.
	dated := when_doc([condition("request.headers", "x-date", ["Tue, 01 Dec 2026"], [])])
	denied_by(dated, with_http(analytics, "GET", "/", {"headers": {"x-date": "Tue, 01 Dec 2026"}}), "default", "no_allow_rule_matched")
}

test_when_not_values_missing_key if {
	# An ALLOW: not_values never holds for a missing key.
	doc := when_doc([condition("request.headers", "x-team", [], ["red"])])
	allowed_by(doc, with_http(analytics, "GET", "/", {"headers": {"x-team": "blue"}}), "when")
	denied_by(doc, with_http(analytics, "GET", "/", {"headers": {"x-team": "red"}}), "default", "no_allow_rule_matched")
	denied_by(doc, request(analytics, "GET", "/"), "default", "no_allow_rule_matched")

	# A DENY fails closed: not_values holds for a missing key, values does not.
	deny_doc := for_any([], [deny("not-blue", {"when": [condition("request.headers", "x-team", [], ["blue"])]})], true)
	denied_by(deny_doc, with_http(analytics, "GET", "/", {"headers": {"x-team": "red"}}), "not-blue", "denied_by_rule")
	denied_by(deny_doc, request(analytics, "GET", "/"), "not-blue", "denied_by_rule")
	allowed_by(deny_doc, with_http(analytics, "GET", "/", {"headers": {"x-team": "blue"}}), "default")
	red_doc := for_any([], [deny("red", {"when": [condition("request.headers", "x-team", ["red"], [])]})], true)
	allowed_by(red_doc, request(analytics, "GET", "/"), "default")
	both_doc := for_any([], [deny("both", {"when": [condition("context", "zone", ["eu"], ["us"])]})], true)
	allowed_by(both_doc, request(analytics, "GET", "/"), "default")
}

test_when_deny_not_values_missing_claim_and_context if {
	issuer_doc := for_any([], [deny("foreign-issuer", {"when": [condition("jwt.claims", "iss", [], ["https://login.example.com"])]})], true)
	allowed_by(issuer_doc, jwt_request({"iss": "https://login.example.com"}, true), "default")
	denied_by(issuer_doc, jwt_request({"iss": "https://evil.example"}, true), "foreign-issuer", "denied_by_rule")
	every missing in [jwt_request({}, true), jwt_request({"iss": "https://login.example.com"}, false), jwt_request({"iss": []}, true), request(analytics, "GET", "/")] {
		denied_by(issuer_doc, missing, "foreign-issuer", "denied_by_rule")
	}
	zone_doc := for_any([], [deny("not-eu", {"when": [condition("context", "zone", [], ["eu"])]})], true)
	denied_by(zone_doc, request(analytics, "GET", "/"), "not-eu", "denied_by_rule")
	allowed_by(zone_doc, object.union(request(analytics, "GET", "/"), {"attributes": {"contextExtensions": {"zone": "eu"}}}), "default")
}

test_when_values_and_not_values_together if {
	doc := when_doc([condition("context", "zone", ["eu-1", "eu-2"], ["eu-2"])])
	allowed_by(doc, object.union(request(analytics, "GET", "/"), {"attributes": {"contextExtensions": {"zone": "eu-1"}}}), "when")
	denied_by(doc, object.union(request(analytics, "GET", "/"), {"attributes": {"contextExtensions": {"zone": "eu-2"}}}), "default", "no_allow_rule_matched")
}

test_when_conditions_are_and if {
	doc := when_doc([condition("request.headers", "x-team", ["blue"], []), condition("context", "zone", ["eu"], [])])
	both := object.union(with_http(analytics, "GET", "/", {"headers": {"x-team": "blue"}}), {"attributes": {"contextExtensions": {"zone": "eu"}}})
	allowed_by(doc, both, "when")
	denied_by(doc, with_http(analytics, "GET", "/", {"headers": {"x-team": "blue"}}), "default", "no_allow_rule_matched")
}

test_when_request_query if {
	doc := when_doc([condition("request.query", "team", ["blue"], [])])
	allowed_by(doc, object.union(request(analytics, "GET", "/?team=blue"), {"parsed_query": {"team": ["blue"]}}), "when")
	denied_by(doc, object.union(request(analytics, "GET", "/?team=red"), {"parsed_query": {"team": ["red"]}}), "default", "no_allow_rule_matched")
	denied_by(doc, request(analytics, "GET", "/"), "default", "no_allow_rule_matched")

	# A repeated parameter is ambiguous: an ALLOW never matches it, even when every value would ...
	polluted := object.union(request(analytics, "GET", "/?team=blue&team=red"), {"parsed_query": {"team": ["blue", "red"]}})
	denied_by(doc, polluted, "default", "no_allow_rule_matched")
	twice := object.union(request(analytics, "GET", "/?team=blue&team=blue"), {"parsed_query": {"team": ["blue", "blue"]}})
	denied_by(doc, twice, "default", "no_allow_rule_matched")
	denied_by(when_doc([condition("request.query", "team", [], ["red"])]), twice, "default", "no_allow_rule_matched")

	# ... a DENY fires on any value.
	deny_doc := for_any([], [deny("no-red", {"when": [condition("request.query", "team", ["red"], [])]})], true)
	denied_by(deny_doc, polluted, "no-red", "denied_by_rule")
	not_blue := for_any([], [deny("only-blue", {"when": [condition("request.query", "team", [], ["blue"])]})], true)
	denied_by(not_blue, polluted, "only-blue", "denied_by_rule")
	allowed_by(not_blue, twice, "default")
	no_red_twice := object.union(request(analytics, "GET", "/?team=blue&team=red&team=red"), {"parsed_query": {"team": ["blue", "red", "red"]}})
	denied_by(deny_doc, no_red_twice, "no-red", "denied_by_rule")

	# A parameter with no values is missing.
	empty := object.union(request(analytics, "GET", "/"), {"parsed_query": {"team": []}})
	denied_by(when_doc([condition("request.query", "team", [], ["red"])]), empty, "default", "no_allow_rule_matched")
	denied_by(not_blue, empty, "only-blue", "denied_by_rule")
}

test_when_jwt_claims if {
	doc := when_doc([condition("jwt.claims", "roles", ["reader"], [])])
	allowed_by(doc, jwt_request({"roles": "reader"}, true), "when")
	allowed_by(doc, jwt_request({"roles": ["writer", "reader"]}, true), "when")
	every req in [
		jwt_request({"roles": "writer"}, true),
		jwt_request({"roles": ["writer"]}, true),
		jwt_request({"roles": []}, true),
		jwt_request({"roles": ["reader", 1]}, true),
		jwt_request({"roles": {"reader": true}}, true),
		jwt_request({"roles": "reader"}, false),
		jwt_request({}, true),
		request(analytics, "GET", "/"),
		object.union(request(analytics, "GET", "/"), {"jwt": {"valid": false, "reason": "expired"}}),
	] {
		denied_by(doc, req, "default", "no_allow_rule_matched")
	}
	not_admin := when_doc([condition("jwt.claims", "roles", [], ["admin"])])
	allowed_by(not_admin, jwt_request({"roles": ["reader"]}, true), "when")
	denied_by(not_admin, jwt_request({"roles": ["reader", "admin"]}, true), "default", "no_allow_rule_matched")
	denied_by(not_admin, jwt_request({}, true), "default", "no_allow_rule_matched")
	denied_by(not_admin, jwt_request({"roles": []}, true), "default", "no_allow_rule_matched")
}

test_when_context if {
	doc := when_doc([condition("context", "region", ["eu-central"], [])])
	allowed_by(doc, object.union(request(analytics, "GET", "/"), {"attributes": {"contextExtensions": {"region": "eu-central"}}}), "when")
	denied_by(doc, object.union(request(analytics, "GET", "/"), {"attributes": {"contextExtensions": {"region": "us-east"}}}), "default", "no_allow_rule_matched")
	denied_by(doc, request(analytics, "GET", "/"), "default", "no_allow_rule_matched")
}

test_when_unknown_key_does_not_hold if {
	denied_by(when_doc([condition("source.ip", "x", ["1"], [])]), request(analytics, "GET", "/"), "default", "no_allow_rule_matched")
}

# --- Defaults, destinations, several rules --------------------------------------------------------------------

test_default_deny_and_allow if {
	denied_by({"default_allow": false, "by_destination": {}, "any_destination": {"allow": [], "deny": []}}, request(analytics, "GET", "/"), "default", "default_deny")
	decide({"default_allow": true, "by_destination": {}, "any_destination": {"allow": [], "deny": []}}, request(analytics, "GET", "/")) == {"allowed": true, "dynamic_metadata": {"rule": "default", "reason": "default_allow", "shadow_denies": []}}
}

test_empty_data_is_default_deny if {
	result := rules.decision with input as request(analytics, "GET", "/")
	result == {"allowed": false, "http_status": 403, "headers": {"x-ext-authz-reason": "default_deny"}, "dynamic_metadata": {"rule": "default", "reason": "default_deny", "shadow_denies": []}}
}

test_empty_input_is_default_deny if {
	denied_by(scenario1, {}, "default", "default_deny")
}

test_rules_of_other_destinations_do_not_count if {
	doc := {"default_allow": true, "by_destination": {"namespace:billing": {"allow": [allow("billing", {})], "deny": [deny("billing-deny", {})]}}}
	allowed_by(doc, request(analytics, "GET", "/"), "default")
}

test_destination_keys if {
	r := allow("keyed", {"from": [from({"principals": [analytics]})]})
	every key in ["principal:spiffe://cluster.local/ns/data/sa/data", "namespace:data", "service_account:data/data"] {
		allowed_by({"by_destination": {key: {"allow": [r], "deny": []}}}, request(analytics, "GET", "/"), "keyed")
	}
	every key in ["principal:cluster.local/ns/data/sa/data", "namespace:dat", "service_account:data", "data"] {
		denied_by({"by_destination": {key: {"allow": [r], "deny": []}}}, request(analytics, "GET", "/"), "default", "default_deny")
	}
}

test_rule_under_several_keys_counts_once if {
	r := shadowed(allow("twice", {"from": [from({"principals": ["spiffe://cluster.local/ns/x/sa/x"]})]}))
	doc := {"default_allow": true, "by_destination": {"namespace:data": {"allow": [r], "deny": []}, "service_account:data/data": {"allow": [r], "deny": []}}}
	decide(doc, request(analytics, "GET", "/")).dynamic_metadata.shadow_denies == ["twice"]
}

test_unauthenticated_destination_uses_only_any_destination if {
	doc := {
		"default_allow": false,
		"by_destination": {"namespace:data": {"allow": [allow("keyed", {})], "deny": []}},
		"any_destination": {"allow": [allow("anywhere", {"from": [from({"principals": [analytics]})]})], "deny": []},
	}
	allowed_by(doc, request(analytics, "GET", "/"), "anywhere")
	allowed_by(doc, request("spiffe://cluster.local/ns/x/sa/x", "GET", "/"), "keyed")
	unauthenticated := object.union(request("spiffe://cluster.local/ns/x/sa/x", "GET", "/"), {"destination": {"authenticated": false}})
	denied_by(doc, unauthenticated, "default", "no_allow_rule_matched")
	not_local := http_request("spiffe://cluster.local/ns/x/sa/x", "spiffe://partner.example/ns/data/sa/data", "GET", "/")
	denied_by(doc, not_local, "default", "no_allow_rule_matched")
	plaintext_destination := http_request("spiffe://cluster.local/ns/x/sa/x", "", "GET", "/")
	denied_by(doc, plaintext_destination, "default", "no_allow_rule_matched")
	allowed_by(doc, http_request(analytics, "", "GET", "/"), "anywhere")
}

test_any_destination_deny if {
	doc := {"default_allow": false, "by_destination": {"namespace:data": {"allow": [everyone], "deny": []}}, "any_destination": {"allow": [], "deny": [deny("no-debug", {"operations": [op({"paths": [{"prefix": "/debug"}]})]})]}}
	allowed_by(doc, request(analytics, "GET", "/api"), "everyone")
	denied_by(doc, request(analytics, "GET", "/debug/pprof"), "no-debug", "denied_by_rule")
}

test_multiple_allow_rules if {
	doc := for_data(
		[
			allow("b-analytics", {"from": [from({"principals": [analytics]})]}),
			allow("c-get", {"operations": [op({"methods": ["GET"]})]}),
			allow("a-admin", {"from": [from({"principals": ["spiffe://cluster.local/ns/ops/sa/admin"]})]}),
		],
		[],
	)
	allowed_by(doc, request(analytics, "POST", "/"), "b-analytics")
	allowed_by(doc, request("spiffe://cluster.local/ns/x/sa/x", "GET", "/"), "c-get")
	allowed_by(doc, request(analytics, "GET", "/"), "b-analytics")
	allowed_by(doc, request("spiffe://cluster.local/ns/ops/sa/admin", "GET", "/"), "a-admin")
	denied_by(doc, request("spiffe://cluster.local/ns/x/sa/x", "POST", "/"), "default", "no_allow_rule_matched")
}

test_deny_beats_allow_and_names_smallest if {
	doc := for_data([everyone], [deny("z-deny", {}), deny("m-deny", {"from": [from({"principals": [analytics]})]})])
	denied_by(doc, request(analytics, "GET", "/"), "m-deny", "denied_by_rule")
	denied_by(doc, request("spiffe://cluster.local/ns/x/sa/x", "GET", "/"), "z-deny", "denied_by_rule")
}

# --- explain ------------------------------------------------------------------------------------------------

explain_of(doc, request) := result if {
	result := rules.explain with data.meshwarden.rules.default_allow as object.get(doc, "default_allow", false)
		with data.meshwarden.rules.by_destination as object.get(doc, "by_destination", {})
		with data.meshwarden.rules.any_destination as object.get(doc, "any_destination", {"allow": [], "deny": []})
		with input as request
}

explained_doc := {
	"default_allow": false,
	"by_destination": {
		"service_account:data/data": {
			"allow": [analytics_reads_data, allow("analytics-gets", {"from": [from({"namespaces": ["analytics"]})], "operations": [op({"methods": ["GET"]})]})],
			"deny": [deny("no-frontend", {"from": [from({"namespaces": ["frontend"]})]})],
		},
		"namespace:other": {"allow": [allow("other-only", {})], "deny": []},
	},
	"any_destination": {"allow": [], "deny": [shadowed(deny("no-debug", {"when": [condition("request.headers", "x-debug", ["1"], [])]}))]},
}

test_explain_lists_every_rule_of_the_destination if {
	req := request(analytics, "GET", "/api/v1/data")
	e := explain_of(explained_doc, req)
	e.decision == decide(explained_doc, req)
	e.decision.dynamic_metadata.rule == "analytics-gets"
	e.matched == ["analytics-gets", "analytics-reads-data"]
	e.path_ambiguous == false
	e.destination_keys == ["namespace:data", "principal:spiffe://cluster.local/ns/data/sa/data", "service_account:data/data"]
	e.rules == [
		{"name": "analytics-gets", "action": "ALLOW", "shadow": false, "matched": true, "not_matched": []},
		{"name": "analytics-reads-data", "action": "ALLOW", "shadow": false, "matched": true, "not_matched": []},
		{"name": "no-debug", "action": "DENY", "shadow": true, "matched": false, "not_matched": ["when"]},
		{"name": "no-frontend", "action": "DENY", "shadow": false, "matched": false, "not_matched": ["from"]},
	]
}

test_explain_names_the_parts_that_did_not_match if {
	e := explain_of(explained_doc, with_http("spiffe://cluster.local/ns/frontend/sa/web", "POST", "/api/v1//data", {"headers": {"x-debug": "1"}}))
	e.decision.dynamic_metadata == {"rule": "no-frontend", "reason": "denied_by_rule", "shadow_denies": []}
	e.matched == ["no-debug", "no-frontend"]
	e.path_ambiguous == true
	e.rules == [
		{"name": "analytics-gets", "action": "ALLOW", "shadow": false, "matched": false, "not_matched": ["ambiguous_path", "from", "operations"]},
		{"name": "analytics-reads-data", "action": "ALLOW", "shadow": false, "matched": false, "not_matched": ["ambiguous_path", "from", "operations"]},
		{"name": "no-debug", "action": "DENY", "shadow": true, "matched": true, "not_matched": []},
		{"name": "no-frontend", "action": "DENY", "shadow": false, "matched": true, "not_matched": []},
	]
}

test_explain_without_rules_for_the_destination if {
	e := explain_of(explained_doc, http_request(analytics, "spiffe://cluster.local/ns/web/sa/web", "GET", "/"))
	e.decision.dynamic_metadata == {"rule": "default", "reason": "default_deny", "shadow_denies": []}
	e.matched == []
	e.rules == [{"name": "no-debug", "action": "DENY", "shadow": true, "matched": false, "not_matched": ["when"]}]
}

test_explain_says_why_in_words if {
	e := explain_of(explained_doc, with_http("spiffe://cluster.local/ns/frontend/sa/web", "POST", "/api/v1/admin", {}))
	e.why["analytics-gets"] == [
		"from[0]: namespace frontend not in [analytics]",
		"operations[0]: method POST not in [GET]",
	]
	e.why["no-debug"] == ["when[0]: request.headers[x-debug] is not one of [1]"]
}

test_explain_names_a_trust_domain_not_accepted if {
	e := explain_of(explained_doc, request("spiffe://evil.example/ns/analytics/sa/analytics", "GET", "/api/v1/data"))
	some message in e.why["analytics-reads-data"]
	message == "trust domain evil.example not accepted (neither the local trust domain, an alias nor a federated one): the caller spiffe://evil.example/ns/analytics/sa/analytics is unauthenticated"
}
