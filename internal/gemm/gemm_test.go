package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// guard is the number of sentinel floats written on each side of C.
const guard = 37

var sentinel = float32(math.Float32frombits(0x7fc0_dead)) // a NaN with a payload

// problem is one Mul with its inputs.
type problem struct {
	m, k, n int
	a, b    []float32
	ep      Epilogue
	alias   bool // Residual is C itself
}

// variant names the epilogue variants every kernel is tested with.
var variants = []string{"plain", "bias", "residual", "relu", "bias+relu", "all", "alias", "alias+bias+relu"}

func newProblem(rng *rand.Rand, m, k, n int, variant string) *problem {
	p := &problem{m: m, k: k, n: n}
	p.a = randSlice(rng, m*k)
	p.b = randSlice(rng, k*n)
	switch variant {
	case "plain":
	case "bias":
		p.ep.Bias = randSlice(rng, m)
	case "residual":
		p.ep.Residual = randSlice(rng, m*n)
	case "relu":
		p.ep.ReLU = true
	case "bias+relu":
		p.ep.Bias = randSlice(rng, m)
		p.ep.ReLU = true
	case "all":
		p.ep.Bias = randSlice(rng, m)
		p.ep.Residual = randSlice(rng, m*n)
		p.ep.ReLU = true
	case "alias":
		p.alias = true
	case "alias+bias+relu":
		p.alias = true
		p.ep.Bias = randSlice(rng, m)
		p.ep.ReLU = true
	default:
		panic(variant)
	}
	return p
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// reference computes the product in float64 with a naive triple loop. It
// also returns, per element, the sum of the magnitudes of every term, which
// bounds the float32 rounding error of any summation order.
func (p *problem) reference(res []float32) (want, mag []float64) {
	want = make([]float64, p.m*p.n)
	mag = make([]float64, p.m*p.n)
	for i := range p.m {
		s := want[i*p.n : (i+1)*p.n]
		g := mag[i*p.n : (i+1)*p.n]
		for q := range p.k {
			aiq := float64(p.a[i*p.k+q])
			for j, bv := range p.b[q*p.n : (q+1)*p.n] {
				t := aiq * float64(bv)
				s[j] += t
				g[j] += math.Abs(t)
			}
		}
		for j := range s {
			if p.ep.Bias != nil {
				s[j] += float64(p.ep.Bias[i])
				g[j] += math.Abs(float64(p.ep.Bias[i]))
			}
			if res != nil {
				s[j] += float64(res[i*p.n+j])
				g[j] += math.Abs(float64(res[i*p.n+j]))
			}
			if p.ep.ReLU && s[j] < 0 {
				s[j] = 0
			}
		}
	}
	return want, mag
}

// run packs A for the named kernel and runs Mul into a C with guard bands;
// it returns the whole backing array (guards included) and C's offset in it.
func (p *problem) run(t testing.TB, kern string, cOff int) (backing []float32, res []float32) {
	t.Helper()
	pa := packA(p.a, p.m, p.k, kernelByName(kern))
	if pa.M() != p.m || pa.K() != p.k {
		t.Fatalf("PackA: M, K = %d, %d; want %d, %d", pa.M(), pa.K(), p.m, p.k)
	}
	backing = make([]float32, cOff+p.m*p.n+guard)
	for i := range backing {
		backing[i] = sentinel
	}
	c := backing[cOff : cOff+p.m*p.n : cOff+p.m*p.n]
	ep := p.ep
	res = p.residual()
	if p.alias {
		// Residual is C itself: fill C with the residual values first.
		copy(c, res)
		ep.Residual = c
	}
	Mul(c, pa, p.b, p.n, ep)
	return backing, res
}

// check compares C with the reference. The tolerance is relative to the sum
// of the magnitudes of the terms: float32 summation in any order (kernels
// split k into blocks and use FMA) errs by at most about (k+2)*2^-24 times
// that sum; a factor 2 leaves room for the reference's own rounding.
func (p *problem) check(t testing.TB, backing []float32, cOff int, res []float32) {
	t.Helper()
	want, mag := p.reference(res)
	p.checkWant(t, "", backing, cOff, res, want, mag)
}

// residual is the residual run uses: Epilogue.Residual, or for an aliased
// residual the values run fills C with.
func (p *problem) residual() []float32 {
	if !p.alias {
		return p.ep.Residual
	}
	res := make([]float32, p.m*p.n)
	for i := range res {
		res[i] = float32(i%7) - 3
	}
	return res
}

func (p *problem) checkWant(t testing.TB, kern string, backing []float32, cOff int, res []float32, want, mag []float64) {
	t.Helper()
	c := backing[cOff : cOff+p.m*p.n]
	bad := 0
	for i, got := range c {
		tol := 2*float64(p.k+2)*0x1p-24*mag[i] + 1e-30
		if d := math.Abs(float64(got) - want[i]); !(d <= tol) {
			if bad++; bad <= 5 {
				t.Errorf("%s m=%d k=%d n=%d: C[%d,%d] = %g, want %g (diff %g > tol %g)",
					kern, p.m, p.k, p.n, i/p.n, i%p.n, got, want[i], d, tol)
			}
		}
	}
	for i := range cOff {
		if math.Float32bits(backing[i]) != math.Float32bits(sentinel) {
			t.Fatalf("%s m=%d k=%d n=%d: guard before C overwritten at -%d", kern, p.m, p.k, p.n, cOff-i)
		}
	}
	for i := cOff + len(c); i < len(backing); i++ {
		if math.Float32bits(backing[i]) != math.Float32bits(sentinel) {
			t.Fatalf("%s m=%d k=%d n=%d: guard after C overwritten at +%d", kern, p.m, p.k, p.n, i-cOff-len(c))
		}
	}
}

// kernelNames lists the kernels, and each one's alternative tile shape
// (kernelByName finds both), for the per-kernel tests.
func kernelNames() []string {
	var names []string
	for _, k := range kernels() {
		names = append(names, k.name)
		if k.alt != nil {
			names = append(names, k.alt.name)
		}
	}
	return names
}

func TestKernel(t *testing.T) {
	name := Kernel()
	if name != kernels()[0].name {
		t.Errorf("Kernel() = %q, want the best available %q", name, kernels()[0].name)
	}
	t.Logf("kernel %s, available %v", name, kernelNames())
	testsupport.CheckKernels(t, kernelNames()) // fails for each kernel CI expects and this build lacks
	// Log which of this architecture's assembly kernels every per-kernel
	// test here skips: a CPU without the feature, or a purego build.
	for _, k := range map[string][]string{"amd64": {"avx512", "avx2"}, "arm64": {"neon"}}[runtime.GOARCH] {
		if kernelByName(k) == nil {
			t.Logf("GEMM kernel %s NOT TESTED on this machine: not available (have %v)", k, kernelNames())
		}
	}
}

// smallSizes cover every remainder of the tile shapes (4, 6, 8, 12, 16, 32)
// and a few sizes past one tile; smallN adds the remainders of 48 for n.
var (
	smallSizes = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 23, 24, 31, 32, 33, 40}
	smallN     = append(smallSizes[:len(smallSizes):len(smallSizes)], 47, 48, 49, 50, 51, 52, 64, 65, 67, 97, 100, 196)
)

// thorough reports whether to run every case: not with -short, and not
// under the race detector, which makes the kernels' Go code ~10x slower.
func thorough() bool { return !testing.Short() && !raceEnabled }

func TestMulSmall(t *testing.T) {
	for _, kern := range kernelNames() {
		t.Run(kern, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, 2))
			idx := 0
			for _, m := range smallSizes {
				for _, k := range smallSizes {
					for _, n := range smallN {
						v := variants[idx%len(variants)]
						cOff := guard + idx%5 // unaligned C
						idx++
						if !thorough() && idx%7 != 0 {
							continue // a deterministic seventh of the cases
						}
						p := newProblem(rng, m, k, n, v)
						backing, res := p.run(t, kern, cOff)
						p.check(t, backing, cOff, res)
						if t.Failed() {
							t.Fatalf("failed at m=%d k=%d n=%d variant %s", m, k, n, v)
						}
					}
				}
			}
		})
	}
}

// largeShapes are ResNet-50's GEMMs (m x k x n) plus odd sizes that cross
// the k and n blocking.
var largeShapes = [][3]int{
	{64, 147, 3136},  // stem 7x7 (im2col), reduced n
	{64, 576, 784},   // 3x3
	{256, 64, 784},   // 1x1 expand
	{512, 4608, 49},  // stage 5 3x3: k split into blocks, M split
	{2048, 512, 49},  // stage 5 1x1 expand: one 48-wide tile and a gemv column
	{64, 256, 3136},  // 1x1 reduce, rows a multiple of 8, not of 12
	{128, 1152, 196}, // n below the split threshold
	{1000, 2048, 1},  // FC, batch 1
	{1000, 2048, 7},  // FC, batch 7
	{37, 600, 1100},  // odd, k and n blocked
	{67, 513, 1031},  // odd everything
	{3, 1030, 2053},  // tiny m, n past ncMax
	{2053, 3, 5},     // tall and thin
	{17, 257, 2*1024 + 33},
	{96, 16, 3136}, // small k: B read in place (directK)
	{37, 7, 1057},  // small odd k, tail panel packed
	{25, 64, 1024 + 45},
	{136, 300, 211}, // more rows than directM: B packed, k blocked, a 48-wide masked tail
	{136, 129, 531},
	{128, 300, 211}, // directM rows: B read in place at any k, k blocked
}

func TestMulLarge(t *testing.T) {
	variants := []string{"plain", "all", "alias+bias+relu"}
	for _, s := range largeShapes {
		for vi, v := range variants {
			if !thorough() && (s[0]*s[1]*s[2] > 1e7 || vi > 0) {
				continue
			}
			t.Run(fmt.Sprintf("%dx%dx%d/%s", s[0], s[1], s[2], v), func(t *testing.T) {
				t.Parallel()
				rng := rand.New(rand.NewPCG(uint64(s[0]), uint64(s[2])))
				p := newProblem(rng, s[0], s[1], s[2], v)
				want, mag := p.reference(p.residual())
				for _, kern := range kernelNames() {
					backing, res := p.run(t, kern, guard+1)
					p.checkWant(t, kern, backing, guard+1, res, want, mag)
				}
			})
		}
	}
}

// TestMulProcs runs with worker counts that split M and N unevenly, and
// with concurrent callers sharing the worker pool.
func TestMulProcs(t *testing.T) {
	for _, procs := range []int{1, 3, 5} {
		t.Run(fmt.Sprint(procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			var wg sync.WaitGroup
			for g, s := range [][3]int{{96, 300, 500}, {300, 200, 49}, {1000, 512, 3}} {
				wg.Go(func() {
					for _, kern := range kernelNames() {
						rng := rand.New(rand.NewPCG(uint64(g), 9))
						p := newProblem(rng, s[0], s[1], s[2], "all")
						backing, res := p.run(t, kern, guard)
						p.check(t, backing, guard, res)
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestMulNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	for _, kern := range kernelNames() { // every kernel, the assembly ones included
		rng := rand.New(rand.NewPCG(3, 4))
		for _, s := range [][3]int{{128, 256, 196}, {256, 256, 49}, {1000, 512, 1}, {64, 147, 13}} {
			p := newProblem(rng, s[0], s[1], s[2], "all")
			pa := packA(p.a, p.m, p.k, kernelByName(kern))
			c := make([]float32, p.m*p.n)
			Mul(c, pa, p.b, p.n, p.ep) // warm up: start workers, fill pools
			if got := testing.AllocsPerRun(20, func() { Mul(c, pa, p.b, p.n, p.ep) }); got != 0 {
				t.Errorf("%s %v: %v allocations per Mul, want 0", kern, s, got)
			}
		}
	}
}

func TestMulPanics(t *testing.T) {
	pa := PackA(make([]float32, 6), 2, 3)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"PackA m=0", func() { PackA(nil, 0, 3) }},
		{"PackA short", func() { PackA(make([]float32, 5), 2, 3) }},
		{"n=0", func() { Mul(make([]float32, 2), pa, make([]float32, 3), 0, Epilogue{}) }},
		{"short b", func() { Mul(make([]float32, 4), pa, make([]float32, 5), 2, Epilogue{}) }},
		{"short c", func() { Mul(make([]float32, 3), pa, make([]float32, 6), 2, Epilogue{}) }},
		{"short bias", func() { Mul(make([]float32, 4), pa, make([]float32, 6), 2, Epilogue{Bias: []float32{1}}) }},
		{"short residual", func() {
			Mul(make([]float32, 4), pa, make([]float32, 6), 2, Epilogue{Residual: make([]float32, 3)})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			tc.f()
		})
	}
}

// FuzzMul checks every kernel against the reference on fuzzed sizes,
// epilogues and values. Values come from the input bytes as small
// integers and halves so the products stay finite.
func FuzzMul(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint8(1), uint8(0), []byte{1, 2, 3})
	f.Add(uint8(13), uint8(7), uint8(33), uint8(5), []byte("gemm fuzz seed"))
	f.Add(uint8(40), uint8(255), uint8(49), uint8(7), []byte{0xff, 0x80, 0x7f, 0})
	f.Fuzz(func(t *testing.T, m, k, n, variant uint8, data []byte) {
		if m == 0 || k == 0 || n == 0 {
			return
		}
		val := func(i int) float32 {
			if len(data) == 0 {
				return 1
			}
			return float32(int8(data[i%len(data)]+byte(i/len(data)))) / 2
		}
		p := newProblem(rand.New(rand.NewPCG(uint64(m), uint64(n))), int(m), int(k), int(n), variants[int(variant)%len(variants)])
		for i := range p.a {
			p.a[i] = val(i)
		}
		for i := range p.b {
			p.b[i] = val(i + 7)
		}
		for _, kern := range kernelNames() {
			backing, res := p.run(t, kern, guard+int(variant)%4)
			p.check(t, backing, guard+int(variant)%4, res)
		}
	})
}

// TestMulReLUSpecials checks that every kernel clamps like max(v, 0) in the
// assembly: NaN stays NaN, negatives become +0, and sums start at +0 (so
// +0 + (-0) gives +0 everywhere).
func TestMulReLUSpecials(t *testing.T) {
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	// C = A*B with k = 1: row i of C is 0 + a[i]*b.
	a := []float32{1, -1, nan}
	b := []float32{2, negZero, -3, 0}
	want := [][]float32{
		{2, 0, 0, 0},
		{0, 0, 3, 0},
		{nan, nan, nan, nan},
	}
	for _, kern := range kernelNames() {
		pa := packA(a, 3, 1, kernelByName(kern))
		c := make([]float32, 12)
		Mul(c, pa, b, 4, Epilogue{ReLU: true})
		for i := range 3 {
			for j := range 4 {
				got, w := c[i*4+j], want[i][j]
				same := math.Float32bits(got) == math.Float32bits(w) || (got != got && w != w)
				if !same {
					t.Errorf("%s: C[%d,%d] = %v (bits %#x), want %v (bits %#x)", kern, i, j, got, math.Float32bits(got), w, math.Float32bits(w))
				}
			}
		}
	}
}

// TestForRows checks which tile shape PackA packs for: the alternative
// (8 rows) only where it pads fewer rows, and that Use does not take an
// alternative by name (Kernel stays an instruction set's name, which
// dwconv and the scale kernels key on).
func TestForRows(t *testing.T) {
	k := kernelByName("avx512")
	if k == nil || k.alt == nil {
		t.Skip("no avx512 kernel here")
	}
	for _, c := range []struct {
		m    int
		want string
	}{{64, "avx512w"}, {1000, "avx512w"}, {2048, "avx512w"}, {48, "avx512w"}, {1152, "avx512w"}, {12, "avx512"}, {36, "avx512"}, {7, "avx512w"}} {
		if got := k.forRows(c.m).name; got != c.want {
			t.Errorf("forRows(%d) = %s, want %s", c.m, got, c.want)
		}
	}
	if err := Use("avx512w"); err == nil {
		t.Errorf("Use(avx512w) = nil, want an error")
		_ = Use(kernels()[0].name)
	}
}
