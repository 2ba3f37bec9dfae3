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
    # Go's fuzzing engine can end a short run with "context deadline
    # exceeded" and no failing input when the machine is busy (its workers
    # miss the deadline): that run found nothing; it is run again once. A
    # real failure always writes its input.
    for attempt in 1 2; do
      if $go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
        break
      fi
      if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
        echo "fuzz: $name: the engine missed its deadline without a failing input; once more"
        continue
      fi
      cat "$log"
      exit 1
    done
    targets=$((targets + 1))
  done
done
echo "fuzz: $targets targets, $fuzztime each, no failure"
