package infer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/gemm"
)

// seShapes are EfficientNet-B0's squeeze-and-excite-scaled 1x1
// projections at batch 1 (cout x cin at h x w, with the residual or not).
var seShapes = []struct {
	m, k, hw int
	res      bool
}{
	{192, 1152, 49, true}, {320, 1152, 49, false}, {192, 672, 49, false},
	{112, 672, 196, true}, {112, 480, 196, false}, {80, 480, 196, true},
}

// seVariant is one way BenchmarkSEProjection runs the product: copy, the
// scaled copy in shares of 2^15 floats (one share at 7x7, as main 2e8a176
// made it) then Mul; copyfine, as runSEScale makes it now; copy1t, the
// copy and Mul on one thread; source, the product inside the GEMM.
type seVariant struct {
	name string
	run  func(c []float32, a *gemm.PackedA, src *scaledSource, b []float32, cols int, ep gemm.Epilogue)
}

var seVariants = []seVariant{
	{"copy", func(c []float32, a *gemm.PackedA, src *scaledSource, b []float32, cols int, ep gemm.Epilogue) {
		parallelFor(a.K(), max(1, (1<<15)/cols), func(lo, hi int) {
			src.Rows(b[lo*cols:hi*cols], lo, hi-lo, 0, cols)
		})
		gemm.Mul(c, a, b, cols, ep)
	}},
	{"copyfine", func(c []float32, a *gemm.PackedA, src *scaledSource, b []float32, cols int, ep gemm.Epilogue) {
		parallelFor(a.K(), max(1, seCopyGrain/cols), func(lo, hi int) {
			src.Rows(b[lo*cols:hi*cols], lo, hi-lo, 0, cols)
		})
		gemm.Mul(c, a, b, cols, ep)
	}},
	{"copy1t", func(c []float32, a *gemm.PackedA, src *scaledSource, b []float32, cols int, ep gemm.Epilogue) {
		defer gemm.Share()() // one more computation: this one gets one thread
		src.Rows(b, 0, a.K(), 0, cols)
		gemm.Mul(c, a, b, cols, ep)
	}},
	{"source", func(c []float32, a *gemm.PackedA, src *scaledSource, b []float32, cols int, ep gemm.Epilogue) {
		gemm.MulSource(c, a, src, cols, ep)
	}},
}

// BenchmarkSEProjection runs seShapes with each of seVariants, one call
// of each per iteration in a rotating order, inside gemm.Share as the
// engine runs them, and reports each one's median time (µs). Run with
// -cpu 1,2.
func BenchmarkSEProjection(b *testing.B) {
	for _, s := range seShapes {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.k, s.hw), func(b *testing.B) {
			defer gemm.Share()()
			rng := rand.New(rand.NewPCG(1, 2))
			rnd := func(n int) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = rng.Float32() - 0.5
				}
				return v
			}
			a := gemm.PackA(rnd(s.m*s.k), s.m, s.k)
			src := &scaledSource{x: rnd(s.k * s.hw), s: rnd(s.k), n: 1, hw: s.hw}
			buf, c := make([]float32, s.k*s.hw), make([]float32, s.m*s.hw)
			ep := gemm.Epilogue{Bias: rnd(s.m)}
			if s.res {
				ep.Residual = rnd(s.m * s.hw)
			}
			times := make([][]float64, len(seVariants))
			for i := 0; b.Loop(); i++ {
				for d := range seVariants {
					w := (d + i) % len(seVariants)
					t0 := time.Now()
					seVariants[w].run(c, a, src, buf, s.hw, ep)
					times[w] = append(times[w], float64(time.Since(t0).Nanoseconds()))
				}
			}
			for d, v := range seVariants {
				slices.Sort(times[d])
				b.ReportMetric(times[d][0]/1e3, v.name+"-min-µs")
				b.ReportMetric(times[d][len(times[d])/2]/1e3, v.name+"-µs")
			}
		})
	}
}
