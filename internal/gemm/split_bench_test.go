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
	names := make([]string, len(splitVariants))
	for i, v := range splitVariants {
		names[i] = v.name
	}
	mulAB(b, m, k, n, names, func(w int) { splitModel = splitVariants[w].model })
}

// mulAB times one Mul of m x k x n per variant per iteration, inside
// Share, in the order ABBA..., set(w) choosing variant w, and reports
// each one's median and 10th percentile (µs) and the first's median over
// each other's.
func mulAB(b *testing.B, m, k, n int, names []string, set func(w int)) {
	mulABOf(b, m, k, n, false, names, set)
}

// mulABOf is mulAB with B given by a Source where src is set.
func mulABOf(b *testing.B, m, k, n int, src bool, names []string, set func(w int)) {
	defer Share()()
	rng := rand.New(rand.NewPCG(1, 2))
	pa := PackA(randSlice(rng, m*k), m, k)
	bm := randSlice(rng, k*n)
	c := make([]float32, m*n)
	ep := Epilogue{Bias: randSlice(rng, m), Residual: randSlice(rng, m*n)}
	times := make([][]float64, len(names))
	for i := 0; b.Loop(); i++ {
		for d := range names {
			// ABBA...: each variant follows each as often, for the cache
			// state the previous call leaves.
			w := d
			if i%2 == 1 {
				w = len(names) - 1 - d
			}
			set(w)
			t0 := time.Now()
			if src {
				MulSource(c, pa, sliceSource{bm, n}, n, ep)
			} else {
				Mul(c, pa, bm, n, ep)
			}
			times[w] = append(times[w], float64(time.Since(t0).Nanoseconds()))
		}
	}
	var base float64
	for d, name := range names {
		slices.Sort(times[d])
		med := times[d][len(times[d])/2]
		if d == 0 {
			base = med
		}
		b.ReportMetric(med/1e3, name+"-µs")
		b.ReportMetric(times[d][len(times[d])/10]/1e3, name+"-p10-µs")
		if d > 0 {
			b.ReportMetric(base/med, names[0]+"/"+name)
		}
	}
}

// BenchmarkOwnBAB compares ResNet-50's batch-1 1x1 convolutions that split
// M with a plain B packed by each of one share per thread (each) and
// packed whole by each thread for finer shares (own, plan.own), as
// BenchmarkSplitAB does, with both threads at full speed (drag=0) and the
// worker at half speed (drag=1, workerDrag: a vCPU the host slows). Run
// with -cpu 2.
func BenchmarkOwnBAB(b *testing.B) {
	defer func(v bool) { ownB = v }(ownB)
	defer func(v float64) { workerDrag = v }(workerDrag)
	for _, drag := range []float64{0, 1} {
		for _, s := range [][3]int{{128, 512, 784}, {512, 128, 784}, {256, 512, 784}, {1024, 256, 196}, {256, 1024, 196}, {512, 1024, 196}, {2048, 512, 49}, {512, 2048, 49}} {
			b.Run(fmt.Sprintf("drag=%v/%dx%dx%d", drag, s[0], s[1], s[2]), func(b *testing.B) {
				workerDrag = drag
				mulAB(b, s[0], s[1], s[2], []string{"each", "own"}, func(w int) { ownB = w == 1 })
			})
		}
	}
}

// BenchmarkFewRowsAB compares plan.own's copies of B with B read in place
// (inPlaceFew) for products of at most directM rows at k above directK:
// ResNet-50's and the families' batch-1 1x1s of few output channels, with
// both threads at full speed and with the worker at half speed. Run with
// -cpu 2.
func BenchmarkFewRowsAB(b *testing.B) {
	defer func(v bool) { inPlaceFew = v }(inPlaceFew)
	defer func(v float64) { workerDrag = v }(workerDrag)
	for _, drag := range []float64{0, 1} {
		for _, s := range [][3]int{{128, 512, 784}, {64, 256, 3136}, {128, 1024, 196}, {96, 576, 196}, {64, 384, 196}} {
			b.Run(fmt.Sprintf("drag=%v/%dx%dx%d", drag, s[0], s[1], s[2]), func(b *testing.B) {
				workerDrag = drag
				mulAB(b, s[0], s[1], s[2], []string{"own", "inplace"}, func(w int) { inPlaceFew = w == 1 })
			})
		}
	}
}

// BenchmarkPackedRowsAB compares shares of M of at least 64 and 32 rows
// (packedRows) where a Source's B is packed once for all (plan.shared):
// ResNet-50's batch-1 3x3 convolutions of stride 2 (and the stride-1 one
// at 56x56, split in N), as BenchmarkOwnBAB does. Run with -cpu 2.
func BenchmarkPackedRowsAB(b *testing.B) {
	defer func(v int) { packedRows = v }(packedRows)
	defer func(v float64) { workerDrag = v }(workerDrag)
	for _, drag := range []float64{0, 1} {
		for _, s := range [][3]int{{128, 1152, 784}, {256, 2304, 196}, {512, 4608, 49}, {64, 576, 3136}} {
			b.Run(fmt.Sprintf("drag=%v/%dx%dx%d", drag, s[0], s[1], s[2]), func(b *testing.B) {
				workerDrag = drag
				mulABOf(b, s[0], s[1], s[2], true, []string{"r64", "r32"}, func(w int) { packedRows = 64 >> w })
			})
		}
	}
}
