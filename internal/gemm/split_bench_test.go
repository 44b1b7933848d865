package gemm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// splitVariants are the two splits BenchmarkSplitAB compares.
var splitVariants = []struct {
	name  string
	model bool
}{{"units", false}, {"model", true}}

// BenchmarkSplitAB runs the products of smallShapes with n > 1 and
// ResNet-50's batch-1 shapes with both splitVariants, one Mul of each per
// iteration in the order ABBA (each follows each as often, for the cache
// state the previous call leaves), inside Share as the engine runs them,
// and reports each one's median time (µs) and the first's over the
// second's: side by side in the same moments, so that a machine whose
// load changes by the second (three helpers on two vCPUs) still compares
// them. Run with -cpu 2.
func BenchmarkSplitAB(b *testing.B) {
	shapes := [][3]int{}
	for _, s := range smallShapes {
		if s.n > 1 {
			shapes = append(shapes, [3]int{s.m, s.k, s.n})
		}
	}
	shapes = append(shapes, benchShapes[1:len(benchShapes)-2]...)
	defer func(m bool) { splitModel = m }(splitModel)
	for _, s := range shapes {
		b.Run(fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]), func(b *testing.B) { splitAB(b, s[0], s[1], s[2]) })
	}
}

func splitAB(b *testing.B, m, k, n int) {
	defer Share()()
	rng := rand.New(rand.NewPCG(1, 2))
	pa := PackA(randSlice(rng, m*k), m, k)
	bm := randSlice(rng, k*n)
	c := make([]float32, m*n)
	ep := Epilogue{Bias: randSlice(rng, m), Residual: randSlice(rng, m*n)}
	times := make([][]float64, len(splitVariants))
	for i := 0; b.Loop(); i++ {
		for d := range splitVariants {
			// ABBA...: each variant follows each as often, for the cache
			// state the previous call leaves.
			w := d
			if i%2 == 1 {
				w = len(splitVariants) - 1 - d
			}
			splitModel = splitVariants[w].model
			t0 := time.Now()
			Mul(c, pa, bm, n, ep)
			times[w] = append(times[w], float64(time.Since(t0).Nanoseconds()))
		}
	}
	var base float64
	for d, v := range splitVariants {
		slices.Sort(times[d])
		med := times[d][len(times[d])/2]
		if d == 0 {
			base = med
		}
		b.ReportMetric(med/1e3, v.name+"-µs")
		if d > 0 {
			b.ReportMetric(base/med, "units/"+v.name)
		}
	}
}
