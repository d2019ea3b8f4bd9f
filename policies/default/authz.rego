# meshwarden's embedded default policy: the regulated-data case (scenario 1).
# The data service may be read only by the analytics service's workload identity, only with
# GET /api/v1/data; every other caller, method and path is denied.
package envoy.authz

default allow := false

# Identity comes from input.source and input.destination: meshwarden parses the mTLS peer principals Envoy
# verified (strictly, per the SPIFFE spec), so "analytics in our trust domain" needs no string tricks, and
# trust domain aliases count as local. Headers never contribute to identity.
# The path is compared as sent (query cut off), so `//api/v1/data`, dot segments and encoded slashes
# never equal the allowed path.
allow if {
	workload(input.destination, "data", "data")
	workload(input.source, "analytics", "analytics")
	input.attributes.request.http.method == "GET"
	path_without_query == "/api/v1/data"
}

workload(peer, namespace, service_account) if {
	peer.authenticated == true
	peer.local == true
	peer.namespace == namespace
	peer.service_account == service_account
}

path_without_query := split(input.attributes.request.http.path, "?")[0]
