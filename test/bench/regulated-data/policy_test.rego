package envoy.authz_test

import rego.v1

import data.envoy.authz

request(source, method, path) := {
	"attributes": {
		"source": {"principal": source},
		"destination": {"principal": "spiffe://cluster.local/ns/data/sa/data"},
		"request": {"http": {"method": method, "path": path}},
	},
	"parsed_path": [segment | some segment in split(trim_prefix(split(path, "?")[0], "/"), "/")],
}

analytics := "spiffe://cluster.local/ns/analytics/sa/analytics"

test_analytics_reads_data if authz.allow with input as request(analytics, "GET", "/api/v1/data?from=2026-11-01")

test_other_caller_denied if not authz.allow with input as request("spiffe://cluster.local/ns/analytics/sa/default", "GET", "/api/v1/data")

test_post_denied if not authz.allow with input as request(analytics, "POST", "/api/v1/data")

test_other_path_denied if not authz.allow with input as request(analytics, "GET", "/api/v1/data/x")
