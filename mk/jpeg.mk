# internal/jpeg: the DCT-scaled JPEG decoder (issue 11).

JPEG_FUZZTIME ?= 60s

.PHONY: bench-jpeg
bench-jpeg: ## 12 MP baseline/progressive photo: decode+preprocess fast vs exact, and decode at each scale vs image/jpeg
	go test -run '^$$' -bench 'BenchmarkPrepare12MP' -benchtime 10x -cpu 1 ./internal/imageprep
	go test -run '^$$' -bench 'BenchmarkDecode12MP' -benchtime 10x -cpu 1 ./internal/jpeg

.PHONY: fuzz-jpeg
fuzz-jpeg: ## fuzz internal/jpeg against image/jpeg for JPEG_FUZZTIME (default 60s)
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(JPEG_FUZZTIME) ./internal/jpeg

.PHONY: bench-batch-photos
bench-batch-photos: build ## mlserve batch over 768x576 photos, then over 12 MP ones: img/s and peak RSS
	go run ./internal/batch/batchbench -bin $(BIN) -photo 768x576 -n 48 -rss-sizes 48
	go run ./internal/batch/batchbench -bin $(BIN) -photo 4032x3024 -n 48 -rss-sizes 48

# Issue 11's batch target, one command: BATCH_PHOTO_BINS (comma-separated,
# default $(BIN)) alternating over BATCH_PHOTO_ROUNDS rounds of 48 768x576
# and 48 12 MP photos; prints CPU per image, the 12 MP / 768x576 throughput
# ratio (target >= 0.8) and the peak RSS gap (target <= 0). With
# BENCH_NICE=-20 (root) it runs in its own autogroup at that nice value.
BATCH_PHOTO_ROUNDS ?= 5
BATCH_PHOTO_BINS ?= $(BIN)

.PHONY: bench-batch-photo-ratio
bench-batch-photo-ratio: build ## 12 MP vs 768x576 photos through mlserve batch: throughput ratio and RSS gap over alternating rounds
	go build -o bin/batchbench ./internal/batch/batchbench
	setsid --wait bash -c 'if [ -n "$$BENCH_NICE" ] && [ -w /proc/self/autogroup ]; then echo "$$BENCH_NICE" >/proc/self/autogroup; fi; \
		exec bin/batchbench -bin $(BATCH_PHOTO_BINS) -photo-ratio $(BATCH_PHOTO_ROUNDS) -n 48'
