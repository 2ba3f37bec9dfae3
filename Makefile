# nobackoff — build, test and demo. `make help` lists the targets.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GOFILES  = $(shell find . -name '*.go' -not -path './bin/*' -not -path './.cache/*')

# Tools the tests run, built from the Go module proxy at pinned versions
# into bin/tools/<name>-<version>/ and rebuilt only when a pin changes.
TOOLS            := $(CURDIR)/bin/tools
REGISTRY_VERSION := v3.1.2
REGISTRY_BIN     := $(TOOLS)/registry-$(REGISTRY_VERSION)/registry
KIND_VERSION     := v0.33.0
KIND_BIN         := $(TOOLS)/kind-$(KIND_VERSION)/kind
HELM_VERSION     := v3.22.0
# The Kubernetes minor helm assumes without a cluster (helm's own release builds stamp it).
KUBE_MINOR       := 36
HELM_BIN         := $(TOOLS)/helm-$(HELM_VERSION)-k1.$(KUBE_MINOR)/helm
HELM_LDFLAGS     := -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(KUBE_MINOR) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(KUBE_MINOR)

# The control plane of the e2e suite, pinned in hack/tools/go.mod.
KUBE_VERSION     := v1.36.3
ETCD_VERSION     := v3.6.8
K8S_DIR          := $(TOOLS)/k8s-$(KUBE_VERSION)-etcd-$(ETCD_VERSION)
KUBE_LDFLAGS     := -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$(KUBE_MINOR)
CONTROL_PLANE    := $(K8S_DIR)/kube-apiserver $(K8S_DIR)/kubectl $(K8S_DIR)/etcd
# The node of the truth suite: the kubelet and the two controllers that make pods out of workloads.
NODE_BINS        := $(K8S_DIR)/kubelet $(K8S_DIR)/kube-controller-manager $(K8S_DIR)/kube-scheduler $(K8S_DIR)/kube-proxy

IMAGE ?= ghcr.io/nobackoff/nobackoff:$(VERSION)

.PHONY: crds help build test unit lint demo bench bench-serve fuzz fuzz-smoke clean tools image control-plane e2e-kind node-setup truth-table

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/nobackoff (static, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/nobackoff ./cmd/nobackoff

lint: ## gofmt and go vet
	@out="$$(gofmt -l $(GOFILES))"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

tools: $(REGISTRY_BIN) $(HELM_BIN) $(CONTROL_PLANE) $(NODE_BINS) ## build the pinned test tools into bin/tools

$(REGISTRY_BIN):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/distribution/distribution/v3/cmd/registry@$(REGISTRY_VERSION)

control-plane: $(CONTROL_PLANE) ## build kube-apiserver, kubectl and etcd (pinned) into bin/tools

$(K8S_DIR)/kube-apiserver $(K8S_DIR)/kubectl $(NODE_BINS): hack/tools/go.mod
	@mkdir -p $(K8S_DIR)
	cd hack/tools && $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

$(K8S_DIR)/etcd: hack/tools/go.mod
	@mkdir -p $(K8S_DIR)
	cd hack/tools && $(GO) build -trimpath -o $@ go.etcd.io/etcd/server/v3

$(KIND_BIN):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install sigs.k8s.io/kind@$(KIND_VERSION)

e2e-kind: $(KIND_BIN) $(HELM_BIN) $(CONTROL_PLANE) ## the e2e kind tests on a kind cluster with the chart (needs Docker and internet; not in make test)
	KIND=$(KIND_BIN) HELM=$(HELM_BIN) NOBACKOFF_K8S_DIR=$(K8S_DIR) hack/e2e-kind.sh

$(HELM_BIN):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install -ldflags '$(HELM_LDFLAGS)' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# The real node of the truth suite needs root and cgroups; NOBACKOFF_NODE=skip runs everything else.
NODE_DEPS = $(if $(filter skip,$(NOBACKOFF_NODE)),,$(NODE_BINS) node-setup)
# Where the tests find the tools.
TEST_ENV = NOBACKOFF_REGISTRY_BIN=$(REGISTRY_BIN) NOBACKOFF_HELM_BIN=$(HELM_BIN) NOBACKOFF_K8S_DIR=$(K8S_DIR) \
	NOBACKOFF_BIN=$(CURDIR)/bin/nobackoff

unit: build $(REGISTRY_BIN) $(HELM_BIN) $(CONTROL_PLANE) $(NODE_DEPS) ## all Go tests (race detector on): registry integration, chart, e2e and the truth suite on a real node
	@if [ "$(NOBACKOFF_NODE)" = skip ]; then printf '\n\033[1;33m*** NOBACKOFF_NODE=skip: the truth suite (a real kubelet) will NOT run ***\033[0m\n\n'; fi
	$(TEST_ENV) $(GO) test -race -count=1 -timeout 30m ./...

node-setup: ## install containerd, runc and the CNI plugins from Debian (idempotent; root)
	hack/node-setup.sh

truth-table: build $(REGISTRY_BIN) $(HELM_BIN) $(CONTROL_PLANE) $(NODE_BINS) node-setup ## run the truth suite on a real node and rewrite docs/truth.md
	$(TEST_ENV) NOBACKOFF_TRUTH_OUT=$(CURDIR)/docs/truth.md $(GO) test -count=1 -run '^TestTruth$$' -v ./e2e

test: lint unit fuzz-smoke ## everything CI runs: lint, all tests, a few seconds of every fuzz target

fuzz-smoke: ## every fuzz target for 3 s
	GO=$(GO) FUZZTIME=3s hack/fuzz.sh

fuzz: ## every fuzz target for FUZZTIME (default 2m) each
	GO=$(GO) FUZZTIME=$(or $(FUZZTIME),2m) hack/fuzz.sh

# `make image` runs docker build when a Docker engine answers `docker info`; without one,
# hack/image builds the same layout with Go alone: bin/image/nobackoff-VERSION.tar for
# `docker load` or `ctr -n k8s.io images import` (an OCI layout directory instead when
# PLATFORMS names several, e.g. PLATFORMS=linux/amd64,linux/arm64), and a push to
# IMAGE_PUSH (e.g. localhost:5000/nobackoff:dev) when set, trusting REGISTRY_CA (a PEM file) besides
# the system's CAs. IMAGE_DOCKER= forces the Go build where a Docker engine answers.
IMAGE_DOCKER     = $(shell docker info >/dev/null 2>&1 && echo yes)
IMAGE_OUT        = bin/image/nobackoff-$(VERSION)
comma           := ,
IMAGE_DOCKER_CMD = docker build --build-arg VERSION=$(VERSION) $(if $(GO_IMAGE),--build-arg GO_IMAGE=$(GO_IMAGE)) \
	$(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) -t $(IMAGE) .
IMAGE_GO_CMD     = $(GO) run ./hack/image --version $(VERSION) --tag $(IMAGE) $(if $(PLATFORMS),--platform $(PLATFORMS)) \
	$(if $(findstring $(comma),$(PLATFORMS)),--oci-layout $(IMAGE_OUT),--tarball $(IMAGE_OUT).tar) \
	$(if $(IMAGE_PUSH),--push $(IMAGE_PUSH)) $(if $(REGISTRY_CA),--registry-ca $(REGISTRY_CA))

image: ## build the container image: docker build if a Docker engine answers (GO_IMAGE, BASE_IMAGE), else go run ./hack/image writes bin/image/ (PLATFORMS, IMAGE_PUSH)
	$(strip $(if $(IMAGE_DOCKER),$(IMAGE_DOCKER_CMD),$(IMAGE_GO_CMD)))

demo: build $(REGISTRY_BIN) $(HELM_BIN) $(CONTROL_PLANE) $(NODE_DEPS) ## a local cluster with a real node, nobackoff installed by helm; kubectl apply of real failure stories, and what the kubelet did
	$(TEST_ENV) hack/demo.sh

# The OpenReports Report CRD the chart installs (charts/nobackoff/crds/), generated by controller-gen
# from the Go types of the github.com/openreports/reports-api version go.mod pins.
CONTROLLER_GEN_VERSION := v0.19.0
crds: ## regenerate charts/nobackoff/crds/ from the OpenReports API types go.mod pins
	@rm -rf bin/crds
	cd "$$($(GO) list -m -f '{{.Dir}}' github.com/openreports/reports-api)" && \
		$(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION) crd \
		paths=./apis/openreports.io/v1alpha1/... output:crd:dir=$(CURDIR)/bin/crds
	cp bin/crds/openreports.io_reports.yaml charts/nobackoff/crds/

bench: ## benchmarks (numbers, never pass/fail)
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-serve: build $(REGISTRY_BIN) $(CONTROL_PLANE) ## nobackoff serve side by side with a minimal webhook under load: CPU per review (time, and instructions under valgrind), latency, dry-run latency; the memory of its cluster caches (numbers, never pass/fail)
	$(TEST_ENV) NOBACKOFF_BENCH=1 $(GO) test -count=1 -run '^(TestSideBySide|TestSideBySideInstructions|TestClusterStateMemory|TestNodesMemory)$$' -v -timeout 30m ./e2e

clean: ## remove build output
	rm -rf bin
