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
test: ## vet and run every test: race detector, purego kernels, the CDK app and the ORT anchor
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(MAKE) gemm-check
	$(MAKE) dwconv-check
	go vet ./...
	go test -race -timeout 30m ./...
	go test -tags purego -timeout 20m ./internal/gemm/... ./internal/dwconv/... ./internal/infer/...
	$(MAKE) test-arm64
	$(MAKE) deploy-test
	$(MAKE) bench-test

-include mk/*.mk
