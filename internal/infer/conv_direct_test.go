package infer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlserve/mlserve/internal/gemm"
)

// convRefGeom is the definition of a convolution of any kernel, stride
// and padding on CNHW input [c, n, h, w] in float64, with bias, residual
// and ReLU, and the sum of |w*x| of every output (the scale of its
// rounding error). w is [cout, c, kh, kw].
func convRefGeom(in, w, bias, res []float32, g geom, n, cout int, relu bool) (out, scale []float64) {
	out = make([]float64, cout*n*g.oh*g.ow)
	scale = make([]float64, len(out))
	for k := range cout {
		for b := range n {
			for oy := range g.oh {
				for ox := range g.ow {
					s, a := float64(bias[k]), math.Abs(float64(bias[k]))
					for c := range g.c {
						for ky := range g.kh {
							for kx := range g.kw {
								iy, ix := oy*g.sh-g.pt+ky, ox*g.sw-g.pl+kx
								if iy < 0 || iy >= g.h || ix < 0 || ix >= g.w {
									continue
								}
								t := float64(w[((k*g.c+c)*g.kh+ky)*g.kw+kx]) * float64(in[((c*n+b)*g.h+iy)*g.w+ix])
								s += t
								a += math.Abs(t)
							}
						}
					}
					i := ((k*n+b)*g.oh+oy)*g.ow + ox
					if res != nil {
						s += float64(res[i])
						a += math.Abs(float64(res[i]))
					}
					if relu && s < 0 {
						s = 0
					}
					out[i], scale[i] = s, a
				}
			}
		}
	}
	return out, scale
}

// directConvCases are convolutions that run as a GEMM (not Winograd): the
// stem and ResNet's stride-2 3x3 at reduced sizes, a strided 1x1 (the
// subsampled path), odd sizes and paddings, a stride of 3 (im2col's
// element path) and output rows wider than a vector; cout 8 and 64 pack
// for the 8-row tiles, 12 and 13 for others.
var directConvCases = []struct {
	g    geom
	cout int
}{
	{geom{c: 3, h: 23, w: 23, kh: 7, kw: 7, sh: 2, sw: 2, pt: 3, pl: 3}, 64},
	{geom{c: 3, h: 30, w: 17, kh: 7, kw: 7, sh: 2, sw: 2, pt: 3, pl: 3}, 8},
	{geom{c: 16, h: 14, w: 14, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1}, 16},
	{geom{c: 24, h: 15, w: 15, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1}, 13},
	{geom{c: 40, h: 7, w: 7, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1}, 12},
	{geom{c: 9, h: 11, w: 13, kh: 1, kw: 1, sh: 2, sw: 2}, 24},
	{geom{c: 5, h: 9, w: 11, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1}, 7},
	{geom{c: 4, h: 12, w: 37, kh: 3, kw: 3, sh: 1, sw: 1, pt: 2, pl: 2}, 9},
	{geom{c: 2, h: 10, w: 19, kh: 3, kw: 5, sh: 3, sw: 3, pt: 1, pl: 2}, 8},
	{geom{c: 3, h: 9, w: 70, kh: 7, kw: 7, sh: 2, sw: 2, pt: 3, pl: 3}, 16},
	// Right padding of 2 at stride 1: the last output columns read past
	// the end of the input's last row (copySegment once panicked there).
	{geom{c: 1, h: 5, w: 6, kh: 3, kw: 3, sh: 1, sw: 1, pt: 0, pl: 2}, 8},
	{geom{c: 2, h: 7, w: 5, kh: 5, kw: 5, sh: 1, sw: 1, pt: 2, pl: 2}, 16},
}

// TestConvDirect checks the convolutions that run as a GEMM, as
// execOp.run makes their B (im2col inside gemm.MulSource, or the input
// subsampled for a strided 1x1), against the float64 definition: every
// kernel this CPU has, batches 1 and 3, bias, residual and ReLU, with
// guard bands around the output.
func TestConvDirect(t *testing.T) {
	const guard = 37
	sentinel := float32(math.Float32frombits(0x7fc0_beef))
	eachKernel(t, func(kern string) {
		rng := rand.New(rand.NewPCG(5, 6))
		for ci, tc := range directConvCases {
			for _, n := range []int{1, 3} {
				g, cout := tc.g, tc.cout
				g.oh = (g.h+2*g.pt-g.kh)/g.sh + 1
				g.ow = (g.w+2*g.pl-g.kw)/g.sw + 1
				res := n == 3
				t.Run(fmt.Sprintf("%s/case%d_c%d_k%d_%dx%dk%dx%ds%d_n%d", kern, ci, g.c, cout, g.h, g.w, g.kh, g.kw, g.sh, n), func(t *testing.T) {
					checkDirectConv(t, rng, g, n, cout, res, guard, sentinel)
				})
			}
		}
	})
}

// checkDirectConv runs one case of TestConvDirect.
func checkDirectConv(t *testing.T, rng *rand.Rand, g geom, n, cout int, withRes bool, guard int, sentinel float32) {
	in := randData(rng, g.c*n*g.h*g.w)
	w := randData(rng, cout*g.c*g.kh*g.kw)
	bias := randData(rng, cout)
	cols := n * g.oh * g.ow
	var res []float32
	if withRes {
		res = randData(rng, cout*cols)
	}
	buf := make([]float32, cout*cols+2*guard)
	for i := range buf {
		buf[i] = sentinel
	}
	dst := buf[guard : guard+cout*cols]
	packed := gemm.PackA(w, cout, g.c*g.kh*g.kw)
	ep := gemm.Epilogue{Bias: bias, Residual: res, ReLU: true}
	if g.kh == 1 && g.kw == 1 {
		sub := make([]float32, g.c*cols)
		subsample(sub, in, g.c*n, g)
		gemm.Mul(dst, packed, sub, cols, ep)
	} else {
		gemm.MulSource(dst, packed, &im2colSource{in: in, g: g, n: n}, cols, ep)
	}
	for i := range guard {
		if a, b := buf[i], buf[len(buf)-1-i]; math.Float32bits(a) != math.Float32bits(sentinel) || math.Float32bits(b) != math.Float32bits(sentinel) {
			t.Fatalf("guard band written at distance %d", i+1)
		}
	}
	want, scale := convRefGeom(in, w, bias, res, g, n, cout, true)
	worst := 0.0
	for i, v := range dst {
		e := math.Abs(float64(v)-want[i]) / max(scale[i], 1e-30)
		if !(e <= 1e-6) { // NaN too
			t.Fatalf("output %d = %v, want %v (error %.3g of sum|w*x|)", i, v, want[i], e)
		}
		worst = max(worst, e)
	}
	t.Logf("worst error %.3g of sum|w*x|", worst)
}

// TestSegments checks im2col's partial-row copies against their
// definition, row[t] = in[ix+sw*t] or zero outside in, for every start
// ix from left of the input to past its end, with guard bands (and an
// input that ends at its last float, as the last row of the last plane).
func TestSegments(t *testing.T) {
	sentinel := float32(math.Float32frombits(0x7fc0_beef))
	for sw, fn := range map[int]func(row, in []float32, ix int){1: copySegment, 2: evensSegment} {
		for w := 1; w <= 40; w++ {
			in := make([]float32, w)
			for i := range in {
				in[i] = float32(i + 1)
			}
			for seg := 1; seg <= 37; seg++ {
				for ix := -2*seg - 3; ix <= w+3; ix++ {
					buf := make([]float32, seg+6)
					for i := range buf {
						buf[i] = sentinel
					}
					fn(buf[3:3+seg], in, ix)
					for i, v := range buf {
						want := sentinel
						if t := i - 3; t >= 0 && t < seg {
							want = 0
							if x := ix + sw*t; x >= 0 && x < w {
								want = in[x]
							}
						}
						if math.Float32bits(v) != math.Float32bits(want) {
							t.Fatalf("stride %d, w %d, seg %d, ix %d: buf[%d] = %v, want %v", sw, w, seg, ix, i, v, want)
						}
					}
				}
			}
		}
	}
}
