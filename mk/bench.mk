# Benchmarks: mlserve's engine against ONNX Runtime (bench/), and the Go
# micro-benchmarks. bench/ort is its own module (cgo); it is built from its
# directory and never part of ./... of the main module.

# The npm package ships linux/x64 and linux/arm64 libraries.
ORT_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x64)
ORT_LIB  := bench/ort/node_modules/onnxruntime-node/bin/napi-v6/linux/$(ORT_ARCH)/libonnxruntime.so.1

$(ORT_LIB): bench/ort/package-lock.json
	cd bench/ort && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

.PHONY: bench
bench: ## mlserve vs ONNX Runtime on ResNet-50 at batch 1 and 8: ms/img, peak RSS, ratios
	bench/bench.sh

.PHONY: bench-go
bench-go: ## run the Go micro-benchmarks of internal/... (compare runs with benchstat)
	go test -run '^$$' -bench . ./internal/...

.PHONY: bench-ab
REF ?= main
AB_ARGS ?= -rounds 5 -batches 1,8 -threads 2 -profile
bench-ab: ## this tree's engine against REF's (default main) in alternation: ratios and the ops that moved (AB_ARGS)
	CGO_ENABLED=0 go build -o bin/bench/abtest ./bench/abtest
	setsid --wait bash -c 'if [ -w /proc/self/autogroup ]; then echo -20 >/proc/self/autogroup; fi; exec bin/bench/abtest -ref "$(REF)" $(AB_ARGS)'

.PHONY: bench-test
bench-test: $(ORT_LIB) ## vet and test the bench harness, ONNX Runtime anchor included
	CGO_ENABLED=0 go vet ./bench/...
	CGO_ENABLED=0 go test -count=1 ./bench/...
	cd bench/ort && go vet ./... && go test -count=1 -timeout 20m ./...
