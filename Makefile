# nobackoff — build, test and demo. `make help` lists the targets.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GOFILES  = $(shell find . -name '*.go' -not -path './bin/*' -not -path './.cache/*')

.PHONY: help build test unit lint demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/nobackoff (static, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/nobackoff ./cmd/nobackoff

lint: ## gofmt and go vet
	@out="$$(gofmt -l $(GOFILES))"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit: ## unit tests with the race detector
	$(GO) test -race -count=1 ./...

test: lint unit ## everything CI runs: lint and all tests

demo: build ## check the examples, then answer recorded admission reviews over HTTPS
	hack/demo.sh

bench: ## benchmarks (numbers, never pass/fail)
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean: ## remove build output
	rm -rf bin
