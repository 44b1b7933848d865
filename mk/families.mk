# Benchmarks of the model families beyond ResNet (issue 16): bench.sh on the
# full-width MobileNetV2 and EfficientNet-B0 of the shared fixtures, each
# verified against torch's logits first, against ONNX Runtime.
FAMILY_BENCH_MODELS := mobilenetv2-1.0 efficientnet-b0

.PHONY: bench-families
bench-families: ## mlserve vs ONNX Runtime on MobileNetV2-1.0 and EfficientNet-B0 at batch 1 and 8
	@for m in $(FAMILY_BENCH_MODELS); do \
		BENCH_MODEL=../shared/fixtures/families/bench/$$m-opset13.onnx BENCH_THREADS=$${BENCH_THREADS:-2} bench/bench.sh || exit 1; \
	done
