package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// benchShapes are ResNet-50's GEMMs at batch 1 (m x k x n): the 7x7 stem,
// per stage the 1x1 reduce, the 3x3 and the 1x1 expand, and the FC layer.
var benchShapes = [][3]int{
	{64, 147, 12544},
	{64, 64, 3136}, {64, 576, 3136}, {256, 64, 3136},
	{128, 512, 784}, {128, 1152, 784}, {512, 128, 784},
	{256, 1024, 196}, {256, 2304, 196}, {1024, 256, 196},
	{512, 2048, 49}, {512, 4608, 49}, {2048, 512, 49},
	{1000, 2048, 1}, {1000, 2048, 8},
}

// genericBenchShapes anchor the comparison without waiting minutes.
var genericBenchShapes = [][3]int{{64, 576, 3136}, {256, 2304, 196}, {512, 4608, 49}}

func BenchmarkMul(b *testing.B) {
	for _, kern := range kernelNames() {
		shapes := benchShapes
		if kern == "generic" {
			shapes = genericBenchShapes
		}
		for _, s := range shapes {
			m, k, n := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%s/%dx%dx%d", kern, m, k, n), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				pa := packA(randSlice(rng, m*k), m, k, kernelByName(kern))
				bm := randSlice(rng, k*n)
				c := make([]float32, m*n)
				ep := Epilogue{Bias: randSlice(rng, m), ReLU: true}
				for b.Loop() {
					Mul(c, pa, bm, n, ep)
				}
				gflops := 2 * float64(m) * float64(k) * float64(n) * float64(b.N) / b.Elapsed().Seconds() / 1e9
				b.ReportMetric(gflops, "GFLOP/s")
				if peak := peakGFLOPS(kernelByName(kern), runtime.GOMAXPROCS(0)); peak > 0 {
					b.ReportMetric(100*gflops/peak, "%peak")
				}
			})
		}
	}
}

// peakGFLOPS measures the FMA peak of kern's instruction set on threads
// cores at once (register-only FMAs, best of 5 runs of ~2 ms), in GFLOP/s;
// 0 for a kernel without a peak loop (generic). It is measured in the
// same process as the benchmark it anchors, so clock and load are shared.
func peakGFLOPS(kern *kernel, threads int) float64 {
	if kern == nil || kern.peak == nil {
		return 0
	}
	const iters = 1 << 18
	best := time.Duration(1 << 62)
	for range 5 {
		var wg sync.WaitGroup
		start := time.Now()
		for range threads {
			wg.Go(func() { kern.peak(iters) })
		}
		wg.Wait()
		best = min(best, time.Since(start))
	}
	return float64(threads) * iters * float64(kern.peakFlops) / best.Seconds() / 1e9
}

// BenchmarkPeak reports each kernel's FMA peak (the anchor of %peak).
func BenchmarkPeak(b *testing.B) {
	for _, name := range kernelNames() {
		kern := kernelByName(name)
		if kern.peak == nil {
			continue
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				kern.peak(1 << 16)
			}
			b.ReportMetric(float64(b.N)*(1<<16)*float64(kern.peakFlops)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkMulSmallK runs MobileNetV2's and EfficientNet-B0's 1x1
// convolutions with few input channels at batch 1 (m x k x n) with B
// packed ("packed") and read in place ("direct", k <= directK), side by
// side in one process.
func BenchmarkMulSmallK(b *testing.B) {
	shapes := [][3]int{{96, 16, 12544}, {144, 24, 3136}, {192, 32, 784}, {240, 40, 784}, {384, 64, 196}, {480, 80, 196}}
	for _, s := range shapes {
		m, k, n := s[0], s[1], s[2]
		for _, mode := range []string{"packed", "direct"} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", mode, m, k, n), func(b *testing.B) {
				saved := directK
				defer func() { directK = saved }()
				if mode == "packed" {
					directK = 0
				} else {
					directK = kcMax
				}
				rng := rand.New(rand.NewPCG(1, 2))
				pa := packA(randSlice(rng, m*k), m, k, active)
				bm := randSlice(rng, k*n)
				c := make([]float32, m*n)
				ep := Epilogue{Bias: randSlice(rng, m), ReLU: true}
				for b.Loop() {
					Mul(c, pa, bm, n, ep)
				}
				b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// smallShapes are the small products of MobileNetV2 and EfficientNet-B0
// at batch 1 (m x k x n, and the epilogue's activation): the
// squeeze-and-excite projections (n = 1), the classifiers (ResNet-50's
// too), the SE-scaled 1x1 projections at 7x7 to 28x28, and MobileNetV2's
// projections to few channels.
var smallShapes = []struct {
	m, k, n int
	act     ActKind
	res     bool
}{
	{1152, 48, 1, ActSigmoid, false}, {672, 28, 1, ActSigmoid, false}, {240, 10, 1, ActSigmoid, false},
	{48, 1152, 1, ActSiLU, false}, {28, 672, 1, ActSiLU, false},
	{1000, 1280, 1, ActNone, false}, {1000, 2048, 1, ActNone, false},
	{192, 1152, 49, ActNone, true}, {320, 1152, 49, ActNone, false}, {112, 672, 196, ActNone, true},
	{80, 480, 196, ActNone, true}, {40, 240, 784, ActNone, true},
	{32, 192, 784, ActNone, true}, {32, 144, 784, ActNone, false}, {64, 384, 196, ActNone, true},
	{24, 144, 3136, ActNone, true}, {16, 96, 12544, ActNone, false},
}

// BenchmarkMulSmall runs smallShapes with the active kernel, inside Share
// as the engine runs them (the pool polls between fork-joins instead of
// parking); run it with -cpu 1,2 to see how each scales to two threads.
// The "cold" runs cycle through copies of A that together exceed L3, as a
// model's weights come from memory: the n = 1 products are bound by it.
func BenchmarkMulSmall(b *testing.B) {
	for _, s := range smallShapes {
		for _, cold := range []bool{false, true} {
			if cold && s.n > 1 {
				continue
			}
			name := fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n)
			if cold {
				name += "/cold"
			}
			b.Run(name, func(b *testing.B) {
				defer Share()()
				rng := rand.New(rand.NewPCG(1, 2))
				copies := 1
				if cold {
					copies = max(1, (64<<20)/(4*s.m*s.k))
				}
				as := make([]*PackedA, copies)
				a := randSlice(rng, s.m*s.k)
				for i := range as {
					as[i] = PackA(a, s.m, s.k)
				}
				bm := randSlice(rng, s.k*s.n)
				c := make([]float32, s.m*s.n)
				ep := Epilogue{Bias: randSlice(rng, s.m), Act: Act{Kind: s.act}}
				if s.res {
					ep.Residual = randSlice(rng, s.m*s.n)
				}
				i := 0
				for b.Loop() {
					Mul(c, as[i%copies], bm, s.n, ep)
					i++
				}
				b.ReportMetric(2*float64(s.m*s.k*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(4*float64(s.m*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s-of-A")
			})
		}
	}
}

// BenchmarkTileShapes runs MobileNetV2's and EfficientNet-B0's products
// whose m is a multiple of 24 (a tie of the 12x32 and 8x48 tiles in
// forRows) with A packed for each, one Mul of each per iteration, and
// reports both median times (µs) and their ratio.
func BenchmarkTileShapes(b *testing.B) {
	shapes := [][3]int{
		{1152, 48, 1}, {48, 1152, 1}, {672, 28, 1},
		{192, 1152, 49}, {1152, 192, 49}, {960, 160, 49}, {192, 672, 49},
		{576, 96, 196}, {96, 576, 196}, {1152, 192, 196}, {480, 80, 196}, {384, 64, 196},
		{192, 32, 784}, {240, 40, 784}, {48, 240, 784}, {144, 24, 3136}, {24, 144, 3136}, {96, 16, 12544},
	}
	w := kernelByName("avx512w")
	if w == nil {
		b.Skip("no avx512 kernels here")
	}
	for _, s := range shapes {
		m, k, n := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("%dx%dx%d", m, k, n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			a := randSlice(rng, m*k)
			pas := []*PackedA{packA(a, m, k, kernelByName("avx512")), packA(a, m, k, w)}
			bm := randSlice(rng, k*n)
			c := make([]float32, m*n)
			ep := Epilogue{Bias: randSlice(rng, m)}
			m0, m1 := abba(b, func(d, _ int) { Mul(c, pas[d], bm, n, ep) })
			b.ReportMetric(m0/1e3, "12x32-µs")
			b.ReportMetric(m1/1e3, "8x48-µs")
			b.ReportMetric(m0/m1, "12x32/8x48")
		})
	}
}
