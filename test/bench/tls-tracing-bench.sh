#!/usr/bin/env bash
# The cost of TLS, of mutual TLS with the SPIFFE allow-list, and of tracing, against plaintext: the built server,
# the pinned ghz, the allowed example request, each case alone on the machine for BENCH_SECONDS (default 5) after
# a 2 s warm-up, at BENCH_CONCURRENCY (default 20). Certificates are made with openssl in a temp dir, removed at
# the end. Tracing is measured with a collector that is not there (spans are batched, then dropped), the cost
# meshwarden itself adds. Usage: npm run build && bash test/bench/tls-tracing-bench.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${TOOLS_BIN_DIR:-$ROOT/.tools/bin}"
GHZ="$BIN/ghz"
CLI="$ROOT/dist/src/cli.js"
REQUEST="$ROOT/examples/requests/analytics-get-data.json"
SECONDS_PER_CASE="${BENCH_SECONDS:-5}"
CONCURRENCY="${BENCH_CONCURRENCY:-20}"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/meshwarden-tls-bench-XXXXXX")"
trap 'rm -rf "$DIR"' EXIT
cd "$DIR"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key && openssl req -x509 -key ca.key -out ca.pem -days 1 -subj "/CN=bench CA" 2>/dev/null
issue() { # name SAN
  key "$1.key" && openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\n' "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 1 -extfile "$1.ext" 2>/dev/null
}
issue server "DNS:meshwarden.test,URI:spiffe://cluster.local/ns/meshwarden/sa/meshwarden"
issue client "URI:spiffe://cluster.local/ns/envoy/sa/envoy"

run_case() { # name "ghz TLS flags" serve flags...
  local name=$1 tls=$2; shift 2
  local port=$((20000 + RANDOM % 20000))
  node "$CLI" serve --grpc-addr "127.0.0.1:$port" --admin-addr off --log-level warn "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  # shellcheck disable=SC2086
  "$GHZ" $tls --call envoy.service.auth.v3.Authorization/Check -D "$REQUEST" -c "$CONCURRENCY" -z 2s "127.0.0.1:$port" >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  local summary; summary=$("$GHZ" $tls --call envoy.service.auth.v3.Authorization/Check -D "$REQUEST" -c "$CONCURRENCY" -z "${SECONDS_PER_CASE}s" "127.0.0.1:$port" 2>&1 || true)
  printf '%-34s rps %-9s avg %-10s p99 %s\n' "$name" \
    "$(grep -m1 'Requests/sec' <<<"$summary" | awk '{print $2}')" \
    "$(grep -m1 'Average' <<<"$summary" | awk '{print $2 $3}')" \
    "$(grep -m1 '99 % in' <<<"$summary" | awk '{print $4 $5}')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
run_case plaintext "--insecure"
run_case "tls" "--cacert ca.pem --cname meshwarden.test" --tls-cert server.pem --tls-key server.key
run_case "mtls + spiffe allow-list" "--cacert ca.pem --cname meshwarden.test --cert client.pem --key client.key" \
  --tls-cert server.pem --tls-key server.key --tls-client-ca ca.pem --tls-allowed-spiffe-ids spiffe://cluster.local/ns/envoy/sa/envoy
run_case "tracing (no collector)" "--insecure" --otlp-traces-endpoint http://127.0.0.1:9/v1/traces
