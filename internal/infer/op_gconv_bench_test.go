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

// BenchmarkGroupConvLayers times whole depthwise layers of MobileNetV2 and
// EfficientNet-B0 at batch 1 (kernel, padding, activation and pool, split
// across the threads as in a model run).
func BenchmarkGroupConvLayers(b *testing.B) {
	for _, s := range []struct {
		c, hw, k, s int
		a           activation
		pool        bool
	}{
		{32, 112, 3, 1, activation{kind: actClip, lo: 0, hi: 6}, false},
		{96, 112, 3, 2, activation{kind: actSiLU}, true},
		{144, 56, 3, 1, activation{kind: actSiLU}, true},
		{672, 14, 5, 1, activation{kind: actSiLU}, true},
		{1152, 7, 5, 1, activation{kind: actSiLU}, true},
		{1152, 7, 5, 1, activation{kind: actSiLU}, false},
		{960, 7, 3, 1, activation{kind: actClip, lo: 0, hi: 6}, false},
	} {
		p := s.k / 2
		oh := (s.hw+2*p-s.k)/s.s + 1
		g := geom{c: s.c, h: s.hw, w: s.hw, kh: s.k, kw: s.k, sh: s.s, sw: s.s, pt: p, pl: p, oh: oh, ow: oh}
		x, out := make([]float32, s.c*s.hw*s.hw), make([]float32, s.c*oh*oh)
		w, bias := make([]float32, s.c*s.k*s.k), make([]float32, s.c)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		for i := range w {
			w[i] = float32(i%5) / 10
		}
		var pool []float32
		if s.pool {
			pool = make([]float32, s.c)
		}
		c := newGroupConv(g, 1, s.a)
		b.Run(fmt.Sprintf("%dx%dx%d-k%d-s%d-pool%v", s.c, s.hw, s.hw, s.k, s.s, s.pool), func(b *testing.B) {
			for b.Loop() {
				groupConv(out, x, c, w, bias, 1, g, 1, s.c, s.c, s.a, pool)
			}
		})
	}
}
