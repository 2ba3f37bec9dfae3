#!/usr/bin/env bash
# The nobackoff demo. Act 1: what CI sees (`nobackoff check` on examples/). Act 2: what kubectl
# shows: a local cluster (etcd, kube-apiserver, and a real node: containerd, kubelet, kube-proxy),
# two registries, and nobackoff installed with helm the way users install it (its image built
# without Docker by `make image` and pushed to the local registry); then `kubectl apply` of the
# failure stories in examples/, in warn mode and in enforce mode. Act 3: the node runs them; the
# kubelet's verdicts are shown next to nobackoff's predictions, then the Report and Events of the
# background pass over what runs. The node needs root; where it cannot
# run (or NOBACKOFF_NODE=skip), nobackoff runs as a process beside the control plane and act 3 is
# left out. Everything it starts is stopped before it exits. Run it with `make demo`, which builds
# the tools.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${NOBACKOFF_K8S_DIR:?run make demo}" "${NOBACKOFF_HELM_BIN:?run make demo}" "${NOBACKOFF_REGISTRY_BIN:?run make demo}"
bin=bin/nobackoff

printf '\n\033[1m== nobackoff check --offline -f examples/   (the verdict CI gets; exit code 1: a pod will not come up) ==\033[0m\n'
rc=0
"$bin" check --offline -f examples/ | tail -n 1 || rc=$?
echo "exit code: $rc"
[ "$rc" = 1 ] || { echo "demo: expected exit code 1" >&2; exit 1; }

# Act 2 is a Go program in the e2e suite (it shares the suite's harness); only its own output is shown.
NOBACKOFF_DEMO=1 NOBACKOFF_BIN="$PWD/$bin" go test -count=1 -timeout 20m -run '^TestDemo$' -v ./e2e \
  | grep --line-buffered -v -E '^(=== RUN|--- PASS|PASS$|ok[[:space:]])'
