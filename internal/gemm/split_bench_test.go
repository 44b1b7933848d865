package gemm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// splitVariant is one setting of the split's knobs.
type splitVariant struct {
	name             string
	model, sharePlan bool
	vecMACs          int
}

var splitVariants = []splitVariant{
	{"units", false, false, 1 << 62}, // the split before the model (main at 3268c43)
	{"model", true, false, 1 << 15},  // the default
	{"model+share", true, true, 1 << 15},
}

// BenchmarkSplitAB runs smallShapes and ResNet-50's batch-1 shapes under
// each of splitVariants in turn, one Mul of each per iteration, inside
// Share as the engine runs them, and reports each variant's median time
// (µs) and its ratio to the first's: side by side in the same moments,
// so that a machine whose load changes by the second (three helpers on
// two vCPUs) still compares them. Run with -cpu 2.
func BenchmarkSplitAB(b *testing.B) {
	shapes := [][3]int{}
	for _, s := range smallShapes {
		shapes = append(shapes, [3]int{s.m, s.k, s.n})
	}
	shapes = append(shapes, benchShapes[1:len(benchShapes)-1]...)
	defer func(m, s bool, v int) { splitModel, sharePlain, vecSplitMACs = m, s, v }(splitModel, sharePlain, vecSplitMACs)
	for _, s := range shapes {
		m, k, n := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("%dx%dx%d", m, k, n), func(b *testing.B) {
			defer Share()()
			rng := rand.New(rand.NewPCG(1, 2))
			pa := PackA(randSlice(rng, m*k), m, k)
			bm := randSlice(rng, k*n)
			c := make([]float32, m*n)
			ep := Epilogue{Bias: randSlice(rng, m), Residual: randSlice(rng, m*n)}
			times := make([][]float64, len(splitVariants))
			i := 0
			for b.Loop() {
				for d := range splitVariants {
					v := splitVariants[(d+i)%len(splitVariants)]
					splitModel, sharePlain, vecSplitMACs = v.model, v.sharePlan, v.vecMACs
					t0 := time.Now()
					Mul(c, pa, bm, n, ep)
					times[(d+i)%len(splitVariants)] = append(times[(d+i)%len(splitVariants)], float64(time.Since(t0).Nanoseconds()))
				}
				i++
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
		})
	}
}
