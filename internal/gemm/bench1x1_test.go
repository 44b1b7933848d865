package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// resnet1x1 are ResNet-50's 1x1 convolutions at batch 1 (m x k x n) with
// their epilogue in the model: bias and ReLU, and the block's residual
// where the model adds it (the last 1x1 of a block and the downsample,
// which takes the block's sum).
var resnet1x1 = []abShape{
	{64, 64, 3136, false, false}, {64, 256, 3136, false, false}, {256, 64, 3136, false, false}, {256, 64, 3136, true, false},
	{128, 256, 3136, false, false},
	{128, 512, 784, false, false}, {512, 128, 784, true, false}, {512, 256, 784, true, false}, {256, 512, 784, false, false},
	{256, 1024, 196, false, false}, {1024, 256, 196, true, false}, {1024, 512, 196, true, false}, {512, 1024, 196, false, false},
	{512, 2048, 49, false, false}, {2048, 512, 49, true, false}, {2048, 1024, 49, true, false},
}

// abShape is one product of BenchmarkMul1x1 and BenchmarkAB1x1: m x k x n,
// with a residual, and with B from a Source (an implicit im2col).
type abShape struct {
	m, k, n  int
	res, src bool
}

// BenchmarkMul1x1 runs resnet1x1 with the kernel the model packs for
// (PackA's), on one thread unless -cpu says otherwise, as the model meets
// them: "warm" multiplies the same A every time (in L2 or L3), "cold"
// cycles through copies of A that together exceed L3 (64 MiB), as the
// model's weights come from memory, each read once per image. B, C and the
// residual are one buffer each, as warm as the layer before leaves them.
func BenchmarkMul1x1(b *testing.B) {
	for _, s := range resnet1x1 {
		for _, cold := range []bool{false, true} {
			name := fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n)
			if s.res {
				name += "+res"
			}
			if cold {
				name += "/cold"
			} else {
				name += "/warm"
			}
			b.Run(name, func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				copies := 1
				if cold {
					copies = max(2, (64<<20)/(4*s.m*s.k))
				}
				a := randSlice(rng, s.m*s.k)
				as := make([]*PackedA, copies)
				for i := range as {
					as[i] = PackA(a, s.m, s.k)
				}
				bm := randSlice(rng, s.k*s.n)
				c := make([]float32, s.m*s.n)
				ep := Epilogue{Bias: randSlice(rng, s.m), ReLU: true}
				if s.res {
					ep.Residual = randSlice(rng, s.m*s.n)
				}
				i := 0
				for b.Loop() {
					Mul(c, as[i%copies], bm, s.n, ep)
					i++
				}
				gflops := 2 * float64(s.m*s.k*s.n) * float64(b.N) / b.Elapsed().Seconds() / 1e9
				b.ReportMetric(gflops, "GFLOP/s")
				if peak := peakGFLOPS(as[0].kern, runtime.GOMAXPROCS(0)); peak > 0 {
					b.ReportMetric(100*gflops/peak, "%peak")
				}
			})
		}
	}
}

// BenchmarkAB1x1 runs resnet1x1 (cold A, as in BenchmarkMul1x1) with a
// setting off and on, alternating per call (ABBA) in one process, and
// reports both medians (µs) and their ratio: on a shared machine the
// side-by-side ratio is the number to trust. The settings are the
// variables the package keeps for this comparison.
func BenchmarkAB1x1(b *testing.B) {
	settings := []struct {
		name string
		set  func(on bool)
	}{
		{"prefetchC", func(on bool) { prefetchC = on }},
		{"kc512", func(on bool) {
			kcThin = 256
			if on {
				kcThin = 512
			}
		}},
		{"rem4", func(on bool) {
			remMax = 2
			if on {
				remMax = 4
			}
		}},
		{"directM", func(on bool) {
			directM = 0
			if on {
				directM = 128
			}
		}},
	}
	// MobileNetV2's and EfficientNet-B0's 1x1 projections to few
	// channels (with a plain B: not squeeze-and-excite scaled).
	proj := []abShape{
		{16, 96, 12544, false, false}, {24, 144, 3136, true, false}, {32, 144, 784, false, false}, {32, 192, 784, true, false},
		{40, 240, 784, true, false}, {64, 384, 196, true, false}, {80, 480, 196, true, false}, {96, 576, 196, true, false}, {112, 672, 196, true, false},
	}
	// ResNet-50's 3x3 and stem GEMMs, B from a Source as im2col gives it.
	im2col := []abShape{
		{64, 147, 12544, false, true}, {64, 576, 3136, false, true}, {128, 1152, 784, false, true},
		{256, 2304, 196, false, true}, {512, 4608, 49, false, true},
	}
	// ResNet-50's 1x1s at 14x14 and 7x7 at batch 8.
	b8 := []abShape{
		{256, 1024, 1568, false, false}, {1024, 256, 1568, true, false}, {512, 1024, 1568, false, false}, {512, 2048, 392, false, false}, {2048, 512, 392, true, false},
	}
	// Winograd's products at batch 1: F(2x2) at 7x7 and 14x14, F(4x4) at
	// 28x28 and 56x56 (m x k x tiles).
	wino := []abShape{{512, 512, 16, false, false}, {256, 256, 49, false, false}, {128, 128, 49, false, false}, {64, 64, 196, false, false}}
	for _, st := range settings {
		for _, s := range slices.Concat(resnet1x1, proj, im2col, b8, wino) {
			for _, kern := range []string{"packa", "avx2"} {
				kp := kernelByName(kern)
				if kern == "packa" {
					kp = active.forRows(s.m)
				} else if kp == nil {
					continue
				}
				name := fmt.Sprintf("%s/%s/%dx%dx%d", st.name, kern, s.m, s.k, s.n)
				if s.res {
					name += "+res"
				}
				b.Run(name, func(b *testing.B) {
					defer st.set(true)
					rng := rand.New(rand.NewPCG(1, 2))
					copies := max(2, (64<<20)/(4*s.m*s.k))
					a := randSlice(rng, s.m*s.k)
					as := make([]*PackedA, copies)
					for i := range as {
						as[i] = packA(a, s.m, s.k, kp)
					}
					bm := randSlice(rng, s.k*s.n)
					c := make([]float32, s.m*s.n)
					ep := Epilogue{Bias: randSlice(rng, s.m), ReLU: true}
					if s.res {
						ep.Residual = randSlice(rng, s.m*s.n)
					}
					var times [2][]float64
					for i := 0; b.Loop(); i++ {
						for d := range 2 {
							d ^= i & 1
							st.set(d == 1)
							t0 := time.Now()
							if s.src {
								MulSource(c, as[(2*i+d)%copies], sliceSource{bm, s.n}, s.n, ep)
							} else {
								Mul(c, as[(2*i+d)%copies], bm, s.n, ep)
							}
							times[d] = append(times[d], float64(time.Since(t0).Nanoseconds()))
						}
					}
					med := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] }
					m0, m1 := med(times[0]), med(times[1])
					b.ReportMetric(m0/1e3, "off-µs")
					b.ReportMetric(m1/1e3, "on-µs")
					b.ReportMetric(m1/m0, "on/off")
					b.ReportMetric(2*float64(s.m*s.k*s.n)/m1, "on-GFLOP/s")
				})
			}
		}
	}
}
