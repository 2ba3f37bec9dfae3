#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a while each: FUZZTIME=3s in
# `make test`, longer with `make fuzz`. The seed corpora (f.Add and
# testdata/fuzz/) already run as ordinary tests in `go test ./...`; this
# explores beyond them. A failure leaves its input under the package's
# testdata/fuzz/<target>/ to be kept as a regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
go=${GO:-go}
targets=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $($go list ./...); do
  for name in $($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $name ($fuzztime)"
    $go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
    targets=$((targets + 1))
  done
done
echo "fuzz: $targets targets, $fuzztime each, no failure"
