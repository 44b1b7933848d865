# mlserve: `make help` lists the targets.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/mlserve/mlserve/internal/cli.Version=$(VERSION)
BIN     := bin/mlserve

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build a static bin/mlserve
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mlserve

.PHONY: run
run: build ## build, fetch the model (unless MLSERVE_MODEL is set) and classify testdata/dog.jpg
	@if [ -z "$$MLSERVE_MODEL" ]; then $(BIN) model pull; fi
	$(BIN) classify testdata/dog.jpg

.PHONY: test
test: ## vet and run every test: race detector, the engine at full strength without it, purego kernels, the CDK app and the ORT anchor
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(MAKE) gemm-check
	$(MAKE) dwconv-check
	go vet ./...
	go test -race -count=1 -timeout 30m ./...
	$(MAKE) test-full
	MLSERVE_CI_KERNELS=generic go test -count=1 -tags purego -timeout 20m ./internal/gemm/... ./internal/dwconv/... ./internal/infer/...
	$(MAKE) test-arm64
	$(MAKE) deploy-test
	$(MAKE) bench-test

# The race detector slows the kernels' Go code about 10x, so under -race the
# GEMM suite runs a seventh of its small cases and no large epilogue variants,
# and the no-alloc checks skip (sync.Pool drops items at random). This run
# has neither: every small case, every large shape and epilogue, the no-alloc
# check on every kernel the CPU has, and the engine and server suites on them.
.PHONY: test-full
test-full: ## the GEMM, depthwise, engine and server suites without -race: thorough mode, no-alloc checks on every kernel
	go test -count=1 -timeout 20m ./internal/gemm/... ./internal/dwconv/... ./internal/infer/... ./internal/server/...

-include mk/*.mk
