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

.PHONY: help build test unit lint demo bench clean tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/nobackoff (static, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/nobackoff ./cmd/nobackoff

lint: ## gofmt and go vet
	@out="$$(gofmt -l $(GOFILES))"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

tools: $(REGISTRY_BIN) ## build the pinned test tools into bin/tools

$(REGISTRY_BIN):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/distribution/distribution/v3/cmd/registry@$(REGISTRY_VERSION)

unit: $(REGISTRY_BIN) ## all Go tests (race detector on), registry integration included
	NOBACKOFF_REGISTRY_BIN=$(REGISTRY_BIN) $(GO) test -race -count=1 ./...

test: lint unit ## everything CI runs: lint and all tests

demo: build ## check the examples, then answer recorded admission reviews over HTTPS
	hack/demo.sh

bench: ## benchmarks (numbers, never pass/fail)
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean: ## remove build output
	rm -rf bin
