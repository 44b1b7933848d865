package infer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/gemm"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// fixtures is the shared reference data made with PyTorch (see its README).
const fixtures = "../../../shared/fixtures"

// readF32 and relL2 are testsupport's: one reader of the fixtures' raw
// float32 files and one error measure for every package's tests.
var (
	readF32 = testsupport.ReadF32
	relL2   = testsupport.RelL2
)

// logitsFlat runs c on the batch px and returns the logits row after row.
func logitsFlat(t *testing.T, c *Classifier, px [][]float32) []float32 {
	t.Helper()
	rows, err := c.Logits(context.Background(), px)
	if err != nil {
		t.Fatal(err)
	}
	var got []float32
	for _, r := range rows {
		got = append(got, r...)
	}
	return got
}

func TestParity(t *testing.T) {
	tests := []struct{ file, ref string }{
		{"mini-v1-opset9-folded.onnx", "mini-v1.out-b4.f32"},
		{"mini-v1-opset11.onnx", "mini-v1.out-b4.f32"},
		{"mini-v1-opset13-folded.onnx", "mini-v1.out-b4.f32"},
		{"mini-v1-opset17-folded.onnx", "mini-v1.out-b4.f32"},
		{"mini-v1-softmax-opset13-folded.onnx", "mini-v1-softmax.out-b4.f32"},
		{"mini-v2-opset9.onnx", "mini-v2.out-b4.f32"},
		{"mini-v2-opset11.onnx", "mini-v2.out-b4.f32"},
		{"mini-v2-opset13-folded.onnx", "mini-v2.out-b4.f32"},
		{"mini-v2-view-opset11.onnx", "mini-v2-view.out-b4.f32"},
		{"zoo-v1-opset12.onnx", "zoo-v1.out-b4.f32"},
		{"zoo-v2-opset7.onnx", "zoo-v2.out-b4.f32"},
		{"resnet50-opset11.onnx", "resnet50.out-b4.f32"},
	}
	input := readF32(t, filepath.Join(fixtures, "models/input-b4.f32"))
	per := 3 * 224 * 224
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if testing.Short() && tt.file == "resnet50-opset11.onnx" {
				t.Skip("large model in -short mode")
			}
			c, err := LoadFile(filepath.Join(fixtures, "models", tt.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := readF32(t, filepath.Join(fixtures, "models", tt.ref))
			px := [][]float32{input[:per], input[per : 2*per], input[2*per : 3*per], input[3*per:]}
			// Batch 4, then each image at batch 1, then batch 4 again: the
			// repeats catch state kept between runs (onnx-go's Gemm bug
			// returned k*A*B + bias on the k-th run).
			for run, batch := range []int{4, 1, 4, 1} {
				var got []float32
				for start := 0; start < 4; start += batch {
					rows, err := c.Logits(context.Background(), px[start:start+batch])
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range rows {
						got = append(got, r...)
					}
				}
				if len(got) != len(want) {
					t.Fatalf("got %d outputs, want %d", len(got), len(want))
				}
				// parityLimit: measured, see tolerance_test.go.
				if e := relL2(got, want); !(e < parityLimit) {
					t.Errorf("run %d batch %d: relative L2 error %.3g, want < %g", run, batch, e, parityLimit)
				} else if run < 2 {
					t.Logf("batch %d: relative L2 error %.3g", batch, e)
				}
			}
		})
	}
}

// TestParityKernels runs fixture models on every GEMM kernel this CPU has
// (AVX-512, AVX2+FMA, NEON, pure Go): each must stay within parityLimit of
// torch.
func TestParityKernels(t *testing.T) {
	if raceEnabled {
		t.Skip("every kernel, numerics; TestParity runs the default one under -race: make test-full runs it without -race")
	}
	input := readF32(t, filepath.Join(fixtures, "models/input-b4.f32"))
	per := 3 * 224 * 224
	px := [][]float32{input[:per], input[per : 2*per], input[2*per : 3*per], input[3*per:]}
	eachKernel(t, func(kern string) {
		models := [][2]string{{"mini-v1-opset11.onnx", "mini-v1.out-b4.f32"}, {"zoo-v2-opset7.onnx", "zoo-v2.out-b4.f32"}, {"mini-v2-view-opset11.onnx", "mini-v2-view.out-b4.f32"}}
		if kern != "generic" && !testing.Short() {
			models = append(models, [2]string{"resnet50-opset11.onnx", "resnet50.out-b4.f32"})
		}
		for _, m := range models {
			t.Run(kern+"/"+m[0], func(t *testing.T) {
				c, err := LoadFile(filepath.Join(fixtures, "models", m[0]), Options{})
				if err != nil {
					t.Fatal(err)
				}
				got := logitsFlat(t, c, px)
				if e := relL2(got, readF32(t, filepath.Join(fixtures, "models", m[1]))); !(e < parityLimit) {
					t.Errorf("relative L2 error %.3g, want < %g", e, parityLimit)
				}
			})
		}
	})
}

// eachKernel runs fn with every GEMM kernel this CPU has selected in turn
// (AVX-512, AVX2+FMA, NEON, pure Go), then restores the default.
func eachKernel(t *testing.T, fn func(kern string)) {
	defer gemm.Use(gemm.Kernel())
	kernels := []string{"avx512", "avx2", "neon", "generic"}
	if raceEnabled {
		// -race is for the engine's own concurrency, which is the same on
		// every kernel, and it slows the Go kernels' loops about 10x; make
		// test-full runs every kernel without it.
		kernels = []string{gemm.Kernel()}
	}
	for _, kern := range kernels {
		if err := gemm.Use(kern); err != nil {
			testsupport.KernelMissing(t, kern, err) // a CPU without it, or -tags purego: loud, and fails if CI expects it
			continue
		}
		fn(kern)
	}
}
