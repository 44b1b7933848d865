package infer

import (
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
			b.Run(fmt.Sprintf("%s/b%d", model, n), func(b *testing.B) { benchLogits(b, c, n) })
		}
	}
}
