package infer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkLogits measures the engine alone on the ResNet-50 fixture and the
// mini model; ms/image is reported so batch sizes compare directly.
func BenchmarkLogits(b *testing.B) {
	for _, model := range []string{"resnet50-opset11.onnx", "mini-v1-opset11.onnx"} {
		c, err := LoadFile(filepath.Join(fixtures, "models", model), Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/b%d", model, n), func(b *testing.B) {
				px := make([][]float32, n)
				for i := range px {
					px[i] = make([]float32, 3*224*224)
					for j := range px[i] {
						px[i][j] = float32((i+j)%255)/128 - 1
					}
				}
				ctx := context.Background()
				if _, err := c.Logits(ctx, px); err != nil { // warm-up: plan and arena
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := c.Logits(ctx, px); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/image")
			})
		}
	}
}
