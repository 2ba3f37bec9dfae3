#!/usr/bin/env bash
# make e2e-kind: a kind cluster, the image built and loaded, the chart installed (self certificates,
# or cert-manager's when cert-manager is installed in the cluster), the kind tests of the e2e
# suite, then the cluster deleted. Needs Docker and internet (base images, kind's node image,
# Docker Hub lookups). Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KIND:?run make e2e-kind}" "${HELM:?run make e2e-kind}" "${NOBACKOFF_K8S_DIR:?run make e2e-kind}"
docker info >/dev/null 2>&1 || { echo "e2e-kind needs a running Docker engine" >&2; exit 2; }
name=${KIND_CLUSTER:-nobackoff-e2e}
image=nobackoff:e2e
kubeconfig=$(mktemp)
cleanup() { "$KIND" delete cluster --name "$name" >/dev/null 2>&1 || true; rm -f "$kubeconfig"; }
trap cleanup EXIT

"$KIND" create cluster --name "$name" --kubeconfig "$kubeconfig" --wait 180s
docker build -t "$image" .
"$KIND" load docker-image "$image" --name "$name"

mode=self
if "$NOBACKOFF_K8S_DIR/kubectl" --kubeconfig "$kubeconfig" get crd certificates.cert-manager.io >/dev/null 2>&1; then
  mode=certManager
fi
"$HELM" --kubeconfig "$kubeconfig" install nobackoff charts/nobackoff --namespace nobackoff --create-namespace \
  --set image.repository=nobackoff --set image.tag=e2e --set image.pullPolicy=Never --set certs.mode="$mode" \
  --set failurePolicy.enforce=Fail --wait --timeout 5m

NOBACKOFF_KIND_KUBECONFIG="$kubeconfig" NOBACKOFF_HELM_BIN="$HELM" go test -count=1 -run '^TestKind$' -v ./e2e
