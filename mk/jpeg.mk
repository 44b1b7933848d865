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
