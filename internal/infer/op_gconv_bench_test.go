package infer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkFamilyModels measures the engine alone on the full-width
// MobileNetV2 and EfficientNet-B0 of the family fixtures (the files `make
// bench-families` times against ONNX Runtime), ms/image at batch 1 and 8;
// with -cpuprofile it shows where a model's time goes by kernel.
func BenchmarkFamilyModels(b *testing.B) {
	for _, model := range []string{"mobilenetv2-1.0-opset13.onnx", "efficientnet-b0-opset13.onnx"} {
		c, err := LoadFile(filepath.Join(fixtures, "families", "bench", model), Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/b%d", model, n), func(b *testing.B) { benchLogits(b, c, n) })
		}
	}
}

// benchLogits times c.Logits on a batch of n synthetic images after one
// warm-up run (plan and arena), reporting ms/image.
func benchLogits(b *testing.B, c *Classifier, n int) {
	px := make([][]float32, n)
	for i := range px {
		px[i] = make([]float32, 3*224*224)
		for j := range px[i] {
			px[i][j] = float32((i+j)%255)/128 - 1
		}
	}
	ctx := context.Background()
	if _, err := c.Logits(ctx, px); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Logits(ctx, px); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N*n), "ms/image")
}
