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

// abProblem is one abShape set up as the model meets it: copies of A
// (cycled through: more than one makes A come from memory, as the model's
// weights do, each read once per image), B, C, and the epilogue (bias,
// ReLU, the residual if any). B, C and the residual are one buffer each,
// as warm as the layer before leaves them.
type abProblem struct {
	s  abShape
	as []*PackedA
	b  []float32
	c  []float32
	ep Epilogue
}

// newABProblem packs A for kern with enough copies to exceed L3 (64 MiB)
// when cold, one otherwise.
func newABProblem(s abShape, kern *kernel, cold bool) *abProblem {
	rng := rand.New(rand.NewPCG(1, 2))
	copies := 1
	if cold {
		copies = max(2, (64<<20)/(4*s.m*s.k))
	}
	a := randSlice(rng, s.m*s.k)
	p := &abProblem{s: s, as: make([]*PackedA, copies), b: randSlice(rng, s.k*s.n), c: make([]float32, s.m*s.n)}
	for i := range p.as {
		p.as[i] = packA(a, s.m, s.k, kern)
	}
	p.ep = Epilogue{Bias: randSlice(rng, s.m), ReLU: true}
	if s.res {
		p.ep.Residual = randSlice(rng, s.m*s.n)
	}
	return p
}

// mul runs the product with the i-th copy of A (cyclically).
func (p *abProblem) mul(i int) {
	a := p.as[i%len(p.as)]
	if p.s.src {
		MulSource(p.c, a, sliceSource{p.b, p.s.n}, p.s.n, p.ep)
		return
	}
	Mul(p.c, a, p.b, p.s.n, p.ep)
}

func (p *abProblem) flops() float64 { return 2 * float64(p.s.m) * float64(p.s.k) * float64(p.s.n) }

func (s abShape) String() string {
	name := fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n)
	if s.res {
		name += "+res"
	}
	return name
}

// BenchmarkMul1x1 runs resnet1x1 with the kernel the model packs for
// (PackA's), on one thread unless -cpu says otherwise: "warm" multiplies
// the same A every time (in L2 or L3), "cold" cycles through copies of A
// as the model reads its weights (see abProblem).
func BenchmarkMul1x1(b *testing.B) {
	for _, s := range resnet1x1 {
		for _, cold := range []bool{false, true} {
			name := s.String() + "/warm"
			if cold {
				name = s.String() + "/cold"
			}
			b.Run(name, func(b *testing.B) {
				p := newABProblem(s, active.forRows(s.m), cold)
				i := 0
				for b.Loop() {
					p.mul(i)
					i++
				}
				gflops := p.flops() * float64(b.N) / b.Elapsed().Seconds() / 1e9
				b.ReportMetric(gflops, "GFLOP/s")
				if peak := peakGFLOPS(p.as[0].kern, runtime.GOMAXPROCS(0)); peak > 0 {
					b.ReportMetric(100*gflops/peak, "%peak")
				}
			})
		}
	}
}

// abba runs run(0) and run(1) alternately, ABBA, once each per iteration
// of b, and returns the median time of each in ns: on a shared machine the
// side-by-side ratio of two settings is the number to trust.
func abba(b *testing.B, run func(d, i int)) (m0, m1 float64) {
	var times [2][]float64
	for i := 0; b.Loop(); i++ {
		for d := range 2 {
			d ^= i & 1
			t0 := time.Now()
			run(d, i)
			times[d] = append(times[d], float64(time.Since(t0).Nanoseconds()))
		}
	}
	med := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] }
	return med(times[0]), med(times[1])
}

// BenchmarkAB1x1 runs ResNet-50's 1x1 convolutions (resnet1x1) and other
// products (below) with cold A, with a setting off and on, alternating
// per call (abba) in one process, and reports both medians (µs) and their
// ratio, for A packed as PackA packs it ("packa") and for the AVX2 kernel.
// The settings are the variables the package keeps for this comparison.
func BenchmarkAB1x1(b *testing.B) {
	settings := []struct {
		name string
		set  func(on bool)
	}{
		{"all", func(on bool) { // the four below at once: main c2ba164's blocking but for the kernels' prefetch distances
			prefetchC, kcThin, remMax, directM = false, 256, 2, 0
			if on {
				prefetchC, kcThin, remMax, directM = true, 512, 4, 128
			}
		}},
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
		{"inPlace", func(on bool) { // B in place at all, by k or by m
			directK, directM = 0, 0
			if on {
				directK, directM = 64, 128
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
	// ResNet-50's 1x1s at batch 8, and MobileNetV2's projections.
	b8 := []abShape{
		{64, 256, 25088, false, false}, {256, 64, 25088, true, false}, {128, 512, 6272, false, false},
		{16, 96, 100352, false, false}, {24, 144, 25088, true, false}, {32, 192, 6272, true, false}, {64, 384, 1568, true, false},
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
				b.Run(fmt.Sprintf("%s/%s/%v", st.name, kern, s), func(b *testing.B) {
					defer st.set(true)
					p := newABProblem(s, kp, true)
					m0, m1 := abba(b, func(d, i int) {
						st.set(d == 1)
						p.mul(2*i + d)
					})
					b.ReportMetric(m0/1e3, "off-µs")
					b.ReportMetric(m1/1e3, "on-µs")
					b.ReportMetric(m1/m0, "on/off")
					b.ReportMetric(p.flops()/m1, "on-GFLOP/s")
				})
			}
		}
	}
}
