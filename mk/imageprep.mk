# internal/imageprep: image decoding and torchvision-exact preprocessing.

IMAGEPREP_FUZZTIME ?= 60s

.PHONY: fuzz-imageprep
fuzz-imageprep: ## fuzz imageprep.Prepare for IMAGEPREP_FUZZTIME (default 60s); crashers land in internal/imageprep/testdata/fuzz
	go test -run '^$$' -fuzz '^FuzzPrepare$$' -fuzztime $(IMAGEPREP_FUZZTIME) -fuzzminimizetime 10x ./internal/imageprep

.PHONY: bench-imageprep
bench-imageprep: ## decode + preprocess ms per fixture image (BenchmarkPrepare, BenchmarkTensor)
	go test -run '^$$' -bench 'Benchmark(Prepare|Tensor)' -benchmem ./internal/imageprep
