package infer

// Limits of the parity tests, from measurement (this tree; AVX-512, AVX2
// and the generic kernel; batch 4 and batch 1; fixtures README for torch
// and ONNX Runtime):
//
//   - parityLimit, relative L2 error of a whole ResNet fixture model's
//     logits against torch's. Direct convolution (packed GEMM) everywhere
//     reaches 1.2e-7 to 5.6e-7 (the worst: ResNet-50 at batch 1 on
//     AVX-512); with Winograd F(2x2,3x3) on every 3x3 stride-1 layer the
//     same models reach 1.2e-7 to 5.6e-7 too (TestParityWinograd): the
//     transforms' extra rounding does not show at network level, so
//     Winograd gets no looser limit here. ONNX Runtime is 4.6e-7 from torch
//     on the same files. NEON (arm64 under qemu, every model but ResNet-50):
//     1.2e-7 to 3.1e-7. 1e-6 leaves less than 2x over the worst; a BatchNorm
//     epsilon or a bias off by one part in 1e5 shows above it.
//   - winoLayerLimit, one Winograd convolution against a float64 direct
//     reference, relative to sum |w*x| per output: measured 3.3e-7 worst
//     over TestWinograd's shapes, vector and Go transforms (13 channels,
//     pad 2: float32 rounding of the GEMM's sums times the transforms'
//     constant factors); 5e-7 leaves 1.5x for the seed-fixed data's other
//     kernels. A wrong tap gives errors of order 0.1.
const (
	parityLimit    = 1e-6
	winoLayerLimit = 5e-7
	// wino4LayerLimit is winoLayerLimit for F(4x4, 3x3), whose transforms
	// scale by up to 8 and 1/15: measured 2.47e-6 worst over TestWinograd's
	// shapes (vector and Go transforms; 2.55e-6 with -tags purego, 2.91e-6
	// on arm64's NEON GEMM under qemu), so 3.5e-6. It is a limit for those
	// shapes, not a bound: tiny planes padded by 2 (13 -> 17 channels, 5x11,
	// 8 images) reached 5.5e-6 in 7 of 30 random seeds, on the phased and
	// blocked paths alike;
	// 0.9-1.1e-6 on ResNet-50's layer
	// sizes (TestWinogradErrorBySize), against 1.3e-7 for F(2x2) there.
	// Whole networks stay at the parity limit (TestParityWinograd).
	wino4LayerLimit = 3.5e-6
)
