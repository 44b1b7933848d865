# `mlserve serve`: the HTTP server (internal/server) and its command
# (internal/cli/serve.go).

SERVE_PKGS   := ./internal/server
SERVE_ROUNDS ?= 3

.PHONY: test-serve
test-serve: ## serve: tests with -race (real sockets, mini model, load test, built binary + SIGTERM)
	go test -race -count=1 $(SERVE_PKGS)
	go test -race -count=1 -run 'Serve' ./internal/cli

.PHONY: fuzz-serve
fuzz-serve: ## serve: fuzz the /predict body parser (raw, multipart, JSON) for 60s
	go test -run '^$$' -fuzz '^FuzzParseBody$$' -fuzztime 60s $(SERVE_PKGS)

.PHONY: bench-serve
bench-serve: ## serve: server vs direct engine on ResNet-50: img/s at 8 clients, p99, added latency at 1 client
	go test -count=1 -timeout 30m -run '^TestServeBench$$' -v $(SERVE_PKGS) \
		-args -serve.model=resnet50-opset11.onnx -serve.rounds=$(SERVE_ROUNDS)

.PHONY: bench-serve-go
bench-serve-go: ## serve: BenchmarkServe sub-benchmarks (mini model; benchstat-friendly)
	go test -run '^$$' -bench '^BenchmarkServe$$' -benchtime 40x -count 1 $(SERVE_PKGS)
