# The benchmark's scenario as Rego, for opa-envoy-plugin and for meshwarden --bundle (compiled with
# `opa build -t wasm -e envoy/authz/allow`): the same decisions as policies/default/rules.yaml, the embedded
# default rules. Only the analytics service's workload identity may GET /api/v1/data (query ignored) on the
# data service; every other caller, method, path and destination is denied.
package envoy.authz

import rego.v1

default allow := false

allow if {
	input.attributes.destination.principal == "spiffe://cluster.local/ns/data/sa/data"
	input.attributes.source.principal == "spiffe://cluster.local/ns/analytics/sa/analytics"
	input.attributes.request.http.method == "GET"
	input.parsed_path == ["api", "v1", "data"]
}
