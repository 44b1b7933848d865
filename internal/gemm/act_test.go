package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// actDef is the definition of each activation in float64, with math.Exp.
var actDef = map[ActKind]func(x float64, a Act) float64{
	ActClamp:     func(x float64, a Act) float64 { return math.Min(math.Max(x, float64(a.Lo)), float64(a.Hi)) },
	ActSigmoid:   func(x float64, a Act) float64 { return 1 / (1 + math.Exp(-x)) },
	ActSiLU:      func(x float64, a Act) float64 { return x / (1 + math.Exp(-x)) },
	ActHardSwish: func(x float64, a Act) float64 { return x * math.Min(math.Max(x/6+0.5, 0), 1) },
}

// actTol is the error allowed for activation k of x: 8 float32 ulps of the
// result (the exp polynomial and the division round a few times; measured
// below 4, see TestActivationsMaxError); 1e-30 absolute, as results that
// small are zero to any layer after (exp's input is clamped to float32's
// normal range); for HardSwish the rounding of x/6 + 1/2, which cancels
// near x = -3, times |x|.
func actTol(k ActKind, x, want float64) float64 {
	tol := 8*0x1p-24*math.Abs(want) + 1e-30
	if k == ActHardSwish {
		tol += 2 * 0x1p-24 * math.Abs(x)
	}
	return tol
}

var actCases = []Act{
	{Kind: ActClamp, Lo: 0, Hi: 6}, {Kind: ActClamp, Lo: -1, Hi: 1},
	{Kind: ActSigmoid}, {Kind: ActSiLU}, {Kind: ActHardSwish},
}

// actInputs are values across and past every activation's range: dense
// near zero, the clamp and HardSwish corners, the exp limits, infinities.
// (Below -88.3 SiLU returns x * e^-88.3, |x| * 5e-39 rather than 0: for
// |x| up to 1e8 that is below actTol's 1e-30.)
func actInputs() []float32 {
	var x []float32
	for v := -100.0; v <= 100; v += 0.0137 {
		x = append(x, float32(v))
	}
	for _, v := range []float64{0, -0, 1e-30, -1e-30, 3, -3, 6, -6, 87.3, -87.3, 88.3, -88.3, 89, -89, 1000, -1000, math.Inf(1), math.Inf(-1)} {
		x = append(x, float32(v))
	}
	return x
}

// TestActivations checks every kernel's activations against the float64
// definitions on tiles of every width to 40 (the vector tails) and three
// row strides, with guard floats around each row that must stay untouched.
func TestActivations(t *testing.T) {
	in := actInputs()
	for _, kern := range kernels() {
		for _, a := range actCases {
			t.Run(fmt.Sprintf("%s/%d/%g..%g", kern.name, a.Kind, a.Lo, a.Hi), func(t *testing.T) {
				for cols := 1; cols <= 40; cols++ {
					for _, pad := range []int{0, 1, 5} {
						ldc := cols + pad
						rows := len(in) / cols // whole rows of inputs
						c := make([]float32, rows*ldc+guard)
						for i := range c {
							c[i] = sentinel
						}
						for i, v := range in[:rows*cols] {
							c[i/cols*ldc+i%cols] = v
						}
						actTile(kern, c, ldc, rows, cols, a)
						for i, v := range c {
							r, col := i/ldc, i%ldc
							if col >= cols || r >= rows {
								if math.Float32bits(v) != math.Float32bits(sentinel) {
									t.Fatalf("cols %d ldc %d: guard %d overwritten", cols, ldc, i)
								}
								continue
							}
							x := in[r*cols+col]
							want := actDef[a.Kind](float64(x), a)
							if math.IsNaN(want) { // Inf * 0 of SiLU at -Inf: not a value a layer makes
								continue
							}
							if d := math.Abs(float64(v) - want); !(d <= actTol(a.Kind, float64(x), want)) && !(math.IsInf(want, 0) && float64(v) == want) {
								t.Fatalf("cols %d: f(%v) = %v, want %v", cols, x, v, want)
							}
						}
					}
				}
			})
		}
	}
}

// TestActivationsMaxError measures the largest error in float32 ulps of
// the result, on |x| <= 20 (where sigmoid is not yet 0 or 1 in float32),
// and bounds it by 4.
func TestActivationsMaxError(t *testing.T) {
	var in []float32
	for v := -20.0; v <= 20; v += 1.0 / 1024 {
		in = append(in, float32(v))
	}
	for _, kern := range kernels() {
		for _, k := range []ActKind{ActSigmoid, ActSiLU} {
			c := append([]float32(nil), in...)
			actTile(kern, c, len(c), 1, len(c), Act{Kind: k})
			worst := 0.0
			for i, v := range c {
				want := actDef[k](float64(in[i]), Act{})
				ulp := math.Abs(float64(math.Nextafter32(float32(want), float32(math.Inf(1)))) - float64(float32(want)))
				worst = max(worst, math.Abs(float64(v)-want)/ulp)
			}
			t.Logf("%s kind %d: max error %.2f ulp", kern.name, k, worst)
			if worst > 4 {
				t.Errorf("%s kind %d: max error %.2f ulp > 4", kern.name, k, worst)
			}
		}
	}
}

// TestExp32 measures exp32 against math.Exp over its whole range.
func TestExp32(t *testing.T) {
	worst := 0.0
	for v := -87.3; v <= 88.3; v += 0.00173 {
		want := math.Exp(float64(float32(v)))
		got := float64(exp32(float32(v)))
		worst = max(worst, math.Abs(got-want)/want)
	}
	t.Logf("exp32: max relative error %.3g (2^-23 = %.3g)", worst, 0x1p-23)
	if worst > 2*0x1p-23 {
		t.Errorf("exp32: max relative error %.3g > 2^-22", worst)
	}
}

// TestMulAct runs every activation through Mul's epilogue on every kernel:
// full and edge tiles, several k blocks (the activation must follow the
// last), the gemv of n = 1 and its remainder columns.
func TestMulAct(t *testing.T) {
	shapes := [][3]int{{13, 7, 33}, {12, 600, 70}, {37, 20, 1}, {29, 9, 17}, {5, 300, 34}}
	for _, kern := range kernelNames() {
		for _, a := range actCases {
			for si, s := range shapes {
				rng := rand.New(rand.NewPCG(uint64(si), 7))
				p := newProblem(rng, s[0], s[1], s[2], []string{"bias", "all", "plain"}[si%3])
				p.ep.Act = a
				cOff := guard + si
				backing, res := p.run(t, kern, cOff)
				want, mag := p.reference(res)
				// The activation's slope is at most 1.5 (HardSwish at 3):
				// the product's error grows by that, plus the activation's own.
				for i := range want {
					want[i] = actDef[a.Kind](want[i], a)
					mag[i] = 1.5*mag[i] + actTol(a.Kind, 0, want[i])/(2*float64(p.k+2)*0x1p-24)
				}
				p.checkWant(t, fmt.Sprintf("%s/%d", kern, a.Kind), backing, cOff, res, want, mag)
			}
		}
	}
}

// TestActivateNoAlloc: the exported in-place form allocates nothing.
func TestActivateNoAlloc(t *testing.T) {
	x := make([]float32, 100)
	if n := testing.AllocsPerRun(10, func() { Activate(x, Act{Kind: ActSiLU}) }); n != 0 {
		t.Errorf("Activate: %v allocations", n)
	}
}

// BenchmarkActivate times each activation on 4096 floats (L1) per kernel.
func BenchmarkActivate(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200)/10 - 10
	}
	for _, kern := range kernels() {
		for _, a := range actCases[1:] {
			b.Run(fmt.Sprintf("%s/kind%d", kern.name, a.Kind), func(b *testing.B) {
				b.SetBytes(4 * int64(len(x)))
				for b.Loop() {
					actTile(kern, x, len(x), 1, len(x), a)
				}
			})
		}
	}
}

// TestScale checks Scale on every kernel for lengths 0-70 (every vector
// tail) against the product, exactly (one rounding either way), with a
// guard float after dst.
func TestScale(t *testing.T) {
	defer Use(Kernel())
	for _, k := range kernels() { // Use's names: Scale keys on the instruction set
		kern := k.name
		if err := Use(kern); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		for n := range 71 {
			src := randSlice(rng, n)
			dst := make([]float32, n+1)
			dst[n] = sentinel
			Scale(dst[:n], src, 0.37)
			for i, v := range src {
				if dst[i] != 0.37*v {
					t.Fatalf("%s n=%d: dst[%d] = %v, want %v", kern, n, i, dst[i], 0.37*v)
				}
			}
			if math.Float32bits(dst[n]) != math.Float32bits(sentinel) {
				t.Fatalf("%s n=%d: guard overwritten", kern, n)
			}
		}
	}
}

// TestSum64 checks Sum64 against a float64 sum in order for lengths around
// the vector block (32) and a long plane; float64 sums of float32 values
// this size differ by reordering only at about 2^-53 relative.
func TestSum64(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 31, 32, 33, 63, 64, 65, 100, 3136, 12544} {
		x := randSlice(rng, n)
		var want, mag float64
		for _, v := range x {
			want += float64(v)
			mag += math.Abs(float64(v))
		}
		if got := Sum64(x); math.Abs(got-want) > float64(n)*0x1p-52*mag+1e-300 {
			t.Errorf("n=%d: Sum64 = %v, want %v", n, got, want)
		}
	}
}
