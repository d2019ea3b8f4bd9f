# meshwarden's embedded default policy: the regulated-data case (scenario 1).
# The data service may be read only by the analytics service's workload identity, only with
# GET /api/v1/data; every other caller, method and path is denied.
package envoy.authz

data_service := "spiffe://cluster.local/ns/data/sa/data"

analytics := "spiffe://cluster.local/ns/analytics/sa/analytics"

default allow := false

# Identity is the mTLS peer principal Envoy verified, never a header. The path is compared as sent
# (query cut off), so `//api/v1/data`, dot segments and encoded slashes never equal the allowed path.
allow if {
	input.attributes.destination.principal == data_service
	input.attributes.source.principal == analytics
	input.attributes.request.http.method == "GET"
	path_without_query == "/api/v1/data"
}

path_without_query := split(input.attributes.request.http.path, "?")[0]
