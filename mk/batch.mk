# mlserve batch and internal/s3io: tests against a real S3 server (versitygw)
# and the batch benchmark.

VERSITYGW_VERSION := v1.8.0

.PHONY: versitygw
versitygw: ## install versitygw, the S3 server the s3io and batch tests start
	go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

.PHONY: test-batch
test-batch: ## test s3io and batch, end to end over folders and versitygw (with CI set to any value, a missing one fails)
	go test -race ./internal/s3io/... ./internal/batch/... ./internal/testsupport/...
	go test -run 'Batch|ResolveShard' ./internal/cli/

.PHONY: bench-batch
bench-batch: build ## batch throughput vs the engine on 64 JPEGs (ResNet-50), peak RSS for 64 vs 1024 inputs
	go run ./internal/batch/batchbench -bin $(BIN) \
		-rss-model ../shared/fixtures/models/resnet50-opset11.onnx
