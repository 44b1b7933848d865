package infer

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkImageParallel runs batches of ResNet-50 and the two family
// models several ways in turn within each iteration, so the host's
// minute-long slowdowns of a vCPU hit all alike: fork-join (one plan of
// the batch, every layer on every thread), image-parallel (pieces.go) with
// three piece sizes, and two lanes (two sub-batches side by side). It
// reports each way's median ms per image and the median of the
// per-iteration ratios against fork-join. Run it with -cpu 2.
func BenchmarkImageParallel(b *testing.B) {
	models := []struct {
		name, path string
		batches    []int
	}{
		{"resnet50", "models/resnet50-opset11.onnx", []int{2, 3, 4, 8}},
		{"mobilenetv2", "families/bench/mobilenetv2-1.0-opset13.onnx", []int{8}},
		{"efficientnet-b0", "families/bench/efficientnet-b0-opset13.onnx", []int{8}},
	}
	for _, m := range models {
		b.Run(m.name, func(b *testing.B) { benchImageParallel(b, filepath.Join(fixtures, m.path), m.batches) })
	}
}

func benchImageParallel(b *testing.B, path string, batches []int) {
	one, err := LoadFile(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	two, err := LoadFile(path, Options{Lanes: 2})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, n := range batches {
		b.Run(fmt.Sprintf("b%d", n), func(b *testing.B) {
			px := make([][]float32, n)
			for i := range px {
				px[i] = make([]float32, 3*224*224)
			}
			w := one.pieceWorkers(n)
			if w < 2 {
				b.Skip("one thread: no image-parallel run")
			}
			pieces := func(split int) func() error {
				return func() error {
					defer func(v int) { pieceSplit = v }(pieceSplit)
					pieceSplit = split
					_, err := one.runPieces(ctx, px, w)
					return err
				}
			}
			// pieceSplit 4, 2 and 1: at batch 8 on two threads, pieces of
			// one image, of two and of four.
			ways := []func() error{
				func() error { _, err := one.runBatch(ctx, px); return err },
				pieces(4), pieces(2), pieces(1),
				func() error { _, err := two.Logits(ctx, px); return err },
			}
			names := []string{"forkjoin", "split4", "split2", "split1", "lanes2"}
			for _, f := range ways { // compile and warm every way
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
			ms := make([][]float64, len(ways))
			ratios := make([][]float64, len(ways))
			it := 0
			for b.Loop() {
				t := make([]float64, len(ways))
				for k := range ways {
					k = (k + it) % len(ways) // rotate who runs first
					start := time.Now()
					if err := ways[k](); err != nil {
						b.Fatal(err)
					}
					t[k] = float64(time.Since(start).Microseconds()) / 1000 / float64(n)
					ms[k] = append(ms[k], t[k])
				}
				for k := range ways {
					ratios[k] = append(ratios[k], t[k]/t[0])
				}
				it++
			}
			for k, name := range names {
				b.ReportMetric(median(ms[k]), name+"-ms/img")
				if k > 0 {
					b.ReportMetric(median(ratios[k]), name+"/forkjoin")
				}
			}
		})
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
