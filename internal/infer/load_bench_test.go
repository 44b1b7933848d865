package infer

import (
	"path/filepath"
	"testing"
)

// BenchmarkLoad measures loading ResNet-50 (decode, lower, pack, plan batch 1).
func BenchmarkLoad(b *testing.B) {
	path := filepath.Join(fixtures, "models/resnet50-opset11.onnx")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadFile(path, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
