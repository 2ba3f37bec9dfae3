#!/usr/bin/env bash
# The nobackoff demo: what CI sees (`nobackoff check` on examples/), then what the API server
# sees (`nobackoff serve` answering a recorded AdmissionReview on its warn and enforce paths).
# Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/nobackoff
[ -x "$bin" ] || { echo "run 'make demo' (it builds $bin first)" >&2; exit 2; }

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }

bold "1. nobackoff check --offline -f examples/   (the verdict CI gets, exit code 1 = a pod will not come up)"
rc=0
"$bin" check --offline -f examples/ || rc=$?   # the examples name a fictional registry
echo "exit code: $rc"
[ "$rc" = 1 ] || { echo "demo: expected exit code 1" >&2; exit 1; }

bold "2. nobackoff serve, answering a recorded AdmissionReview over HTTPS"
tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=nobackoff-demo -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null
port=${DEMO_PORT:-18443}
"$bin" serve --registry-lookups=false --host 127.0.0.1 --port "$port" --tls-cert-file "$tmp/tls.crt" --tls-key-file "$tmp/tls.key" \
  --shutdown-delay 0s --log-format text 2>"$tmp/serve.log" &
pid=$!
url="https://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -sf --cacert "$tmp/tls.crt" "$url/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; exit 1; }
  sleep 0.1
done

review=testdata/admission/deployment-create.json
show() { python3 -m json.tool 2>/dev/null || cat; }
echo "\$ curl --cacert tls.crt -H 'Content-Type: application/json' --data @$review $url/validate/warn"
curl -sS --cacert "$tmp/tls.crt" -H 'Content-Type: application/json' --data @"$review" "$url/validate/warn" | show
echo
echo "\$ curl ... $url/validate/enforce"
curl -sS --cacert "$tmp/tls.crt" -H 'Content-Type: application/json' --data @"$review" "$url/validate/enforce" | show
echo
echo "\$ curl ... --data '{\"hello\":\"world\"}' $url/validate/warn"
curl -sS --cacert "$tmp/tls.crt" -H 'Content-Type: application/json' --data '{"hello":"world"}' -w 'HTTP %{http_code}\n' "$url/validate/warn"

bold "Done. Next: install it in a cluster (see README: Install)."
