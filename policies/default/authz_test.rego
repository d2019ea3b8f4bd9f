package envoy.authz_test

import data.envoy.authz

# Identity blocks as meshwarden builds them (src/identity.ts) for the principals used below.
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
	block := {"principal": principal, "spiffe_id": principal, "trust_domain": parts[2], "path": concat("/", ["", "ns", parts[4], "sa", parts[6]]), "namespace": parts[4], "service_account": parts[6], "local": local, "authenticated": local, "via": "mtls"}
}

analytics := "spiffe://cluster.local/ns/analytics/sa/analytics"

data_service := "spiffe://cluster.local/ns/data/sa/data"

request(source, method, path) := {
	"attributes": {
		"source": {"principal": source},
		"destination": {"principal": data_service},
		"request": {"http": {"method": method, "path": path, "headers": {}}},
	},
	"source": peer(source),
	"destination": peer(data_service),
}

test_analytics_get_data_allowed if {
	authz.allow with input as request(analytics, "GET", "/api/v1/data")
}

test_trust_domain_alias_is_local if {
	authz.allow with input as request("spiffe://old.example/ns/analytics/sa/analytics", "GET", "/api/v1/data")
}

test_query_string_does_not_change_the_path if {
	authz.allow with input as request(analytics, "GET", "/api/v1/data?from=2026-01-01")
}

test_post_denied if {
	not authz.allow with input as request(analytics, "POST", "/api/v1/data")
}

test_lowercase_method_denied if {
	not authz.allow with input as request(analytics, "get", "/api/v1/data")
}

test_other_path_denied if {
	not authz.allow with input as request(analytics, "GET", "/api/v1/admin")
}

test_path_tricks_denied if {
	every path in [
		"/api/v1/data/../admin",
		"//api/v1/data",
		"/api/v1/data%2F..%2Fadmin",
		"/api/v1/data/",
		"/api/v1/DATA",
		"/api/v1/data;x=1",
		"/api/v1/data#f",
		"/api/v1/%64ata",
		"\\api\\v1\\data",
		"/api/v1/data%00",
	] {
		not authz.allow with input as request(analytics, "GET", path)
	}
}

test_default_service_account_in_analytics_denied if {
	not authz.allow with input as request("spiffe://cluster.local/ns/analytics/sa/default", "GET", "/api/v1/data")
}

test_plaintext_caller_denied if {
	not authz.allow with input as request("", "GET", "/api/v1/data")
}

test_missing_identity_blocks_denied if {
	not authz.allow with input as {"attributes": {
		"source": {"principal": analytics},
		"destination": {"principal": data_service},
		"request": {"http": {"method": "GET", "path": "/api/v1/data"}},
	}}
}

test_unauthenticated_source_denied if {
	not authz.allow with input as object.union(request(analytics, "GET", "/api/v1/data"), {"source": object.union(peer(analytics), {"authenticated": false})})
}

test_identity_headers_are_ignored if {
	not authz.allow with input as {
		"attributes": {
			"source": {"principal": "spiffe://cluster.local/ns/test/sa/default"},
			"destination": {"principal": data_service},
			"request": {"http": {"method": "GET", "path": "/api/v1/data", "headers": {
				"x-forwarded-client-cert": sprintf("By=%s;URI=%s", [data_service, analytics]),
				"x-spiffe-id": analytics,
				"x-envoy-downstream-service-cluster": "analytics",
			}}},
		},
		"source": peer("spiffe://cluster.local/ns/test/sa/default"),
		"destination": peer(data_service),
	}
}

test_foreign_trust_domain_denied if {
	not authz.allow with input as request("spiffe://evil.example/ns/analytics/sa/analytics", "GET", "/api/v1/data")
}

test_other_destination_denied if {
	not authz.allow with input as object.union(request(analytics, "GET", "/api/v1/data"), {"destination": peer("spiffe://cluster.local/ns/billing/sa/billing")})
}
