package dwconv

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// reference is the definition in float64: one group's output planes from
// its input planes, zero outside the input, then the clamp; also the sum of
// the terms' magnitudes per pixel, which bounds float32's rounding error.
func reference(g Geom, cpg, opg int, src, w, bias []float32, lo, hi float32) (out, mag []float64) {
	out = make([]float64, opg*g.OH*g.OW)
	mag = make([]float64, len(out))
	for j := range opg {
		for y := range g.OH {
			for x := range g.OW {
				s, m := float64(bias[j]), math.Abs(float64(bias[j]))
				for ci := range cpg {
					for ky := range g.KH {
						for kx := range g.KW {
							iy, ix := y*g.SH-g.PT+ky, x*g.SW-g.PL+kx
							if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
								continue
							}
							p := float64(src[(ci*g.H+iy)*g.W+ix]) * float64(w[((j*cpg+ci)*g.KH+ky)*g.KW+kx])
							s, m = s+p, m+math.Abs(p)
						}
					}
				}
				i := (j*g.OH+y)*g.OW + x
				out[i], mag[i] = min(max(s, float64(lo)), float64(hi)), m
			}
		}
	}
	return out, mag
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// geomFor is the output size of an H x W input with pads t, l, b, r.
func geomFor(h, w, k, s, t, l, b, r int) Geom {
	return Geom{H: h, W: w, KH: k, KW: k, SH: s, SW: s, PT: t, PL: l,
		OH: (h+t+b-k)/s + 1, OW: (w+l+r-k)/s + 1}
}

// TestConv checks every kernel against the float64 definition: kernel
// sizes 1-7, strides 1-3, symmetric, asymmetric and no padding, rows
// shorter than, equal to and longer than every vector block, group widths
// 1-5 with several outputs per group, and a guard band around every output
// plane that must stay untouched.
func TestConv(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	type tc struct {
		name     string
		g        Geom
		cpg, opg int
		lo, hi   float32
	}
	var cases []tc
	inf := float32(math.Inf(1))
	for _, k := range []int{1, 3, 5, 7} {
		for _, s := range []int{1, 2, 3} {
			for _, hw := range [][2]int{{1, 1}, {5, 7}, {7, 7}, {8, 8}, {11, 3}, {14, 14}, {16, 16}, {17, 33}, {28, 28}, {9, 70}, {56, 56}, {3, 131}} {
				p := k / 2
				for _, pads := range [][4]int{{p, p, p, p}, {0, 0, 0, 0}, {0, 0, p, p}, {p, p + 1, 0, 1}} {
					g := geomFor(hw[0], hw[1], k, s, pads[0], pads[1], pads[2], pads[3])
					if g.OH < 1 || g.OW < 1 {
						continue
					}
					cases = append(cases, tc{fmt.Sprintf("k%d/s%d/%dx%d/pad%v", k, s, hw[0], hw[1], pads), g, 1, 1, 0, 6})
				}
			}
		}
	}
	g := geomFor(14, 15, 3, 1, 1, 1, 1, 1)
	cases = append(cases,
		tc{"grouped/cpg2", g, 2, 3, float32(math.Inf(-1)), inf},
		tc{"grouped/cpg5", g, 5, 2, 0, inf},
		tc{"grouped/cpg3/s2", geomFor(29, 31, 3, 2, 1, 1, 1, 1), 3, 4, -0.5, 0.5},
		tc{"stride-h2-w1", Geom{H: 12, W: 40, KH: 3, KW: 5, SH: 2, SW: 1, PT: 1, PL: 2, OH: 6, OW: 40}, 1, 1, -inf, inf},
	)
	for _, kern := range Kernels() {
		for _, tt := range cases {
			t.Run(kern+"/"+tt.name, func(t *testing.T) {
				g := tt.g
				c := New(g, tt.cpg, tt.lo, tt.hi, kern)
				if c.Kernel() != kern {
					t.Fatalf("kernel %s, want %s", c.Kernel(), kern)
				}
				src := randSlice(r, tt.cpg*g.H*g.W)
				w := randSlice(r, tt.opg*tt.cpg*g.KH*g.KW)
				bias := randSlice(r, tt.opg)
				want, mag := reference(g, tt.cpg, tt.opg, src, w, bias, tt.lo, tt.hi)
				const guard = 19
				ohw := g.OH * g.OW
				stride := ohw + 2*guard
				dst := make([]float32, tt.opg*stride+guard)
				for i := range dst {
					dst[i] = -12345
				}
				for range 2 { // the second run reuses a pooled buffer
					c.Run(dst[guard:], stride, src, g.H*g.W, w, bias)
				}
				for i, v := range dst {
					j, p := (i-guard)/stride, (i-guard)%stride
					if i < guard || p >= ohw {
						if v != -12345 {
							t.Fatalf("guard float %d changed to %v", i, v)
						}
						continue
					}
					// float32 rounds each of the <= cpg*k*k+1 sums by at
					// most 2^-24 relative to the running magnitude.
					tol := float64(tt.cpg*g.KH*g.KW+2) * 0x1p-24 * mag[j*ohw+p]
					if e := math.Abs(float64(v) - want[j*ohw+p]); !(e <= tol) {
						t.Fatalf("plane %d pixel %d: got %v, want %v (error %.3g > %.3g)", j, p, v, want[j*ohw+p], e, tol)
					}
				}
			})
		}
	}
}

// TestRunNoAlloc checks that Run allocates nothing once its scratch is
// pooled.
func TestRunNoAlloc(t *testing.T) {
	if raceEnabled {
		// make test-full runs this check without the race detector.
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	for _, kern := range Kernels() {
		g := geomFor(56, 56, 3, 2, 1, 1, 1, 1)
		c := New(g, 1, 0, 6, kern)
		r := rand.New(rand.NewSource(2))
		src, w, bias := randSlice(r, 56*56), randSlice(r, 9), randSlice(r, 1)
		dst := make([]float32, g.OH*g.OW)
		c.Run(dst, 0, src, 0, w, bias)
		if n := testing.AllocsPerRun(20, func() { c.Run(dst, 0, src, 0, w, bias) }); n != 0 {
			t.Errorf("%s: %v allocations per Run", kern, n)
		}
	}
}

func TestDeinterleave(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, kern := range Kernels() {
		k := kernelByName(kern)
		for n := range 70 {
			src := randSlice(r, 2*n+1)
			even, odd := make([]float32, n+1), make([]float32, n+1)
			even[n], odd[n] = 7, 7 // guard
			k.deinterleave(even[:n], odd[:n], src)
			for j := range n {
				if even[j] != src[2*j] || odd[j] != src[2*j+1] {
					t.Fatalf("%s n=%d j=%d: got %v %v, want %v %v", kern, n, j, even[j], odd[j], src[2*j], src[2*j+1])
				}
			}
			if even[n] != 7 || odd[n] != 7 {
				t.Fatalf("%s n=%d: guard overwritten", kern, n)
			}
		}
	}
}

// TestPadSplit2 checks every kernel's stride-2 row split against its
// definition for row widths across the vector blocks and tails, with a
// guard that must stay untouched after each row's last float.
func TestPadSplit2(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	const rows, guard = 3, 7
	for _, kern := range Kernels() {
		k := kernelByName(kern)
		for w := 1; w <= 100; w++ {
			spitch, dpitch := w+3, (w+1)/2+guard
			src := randSlice(r, rows*spitch)
			ev, od := make([]float32, rows*dpitch), make([]float32, rows*dpitch)
			for i := range ev {
				ev[i], od[i] = -7, -7
			}
			if k.padSplit2 != nil {
				k.padSplit2(ev, od, src, rows, w, dpitch, spitch)
			} else {
				padSplit2Rows(k, ev, od, src, rows, w, dpitch, spitch)
			}
			for row := range rows {
				for j := range dpitch {
					we, wo := float32(-7), float32(-7)
					if 2*j < w {
						we = src[row*spitch+2*j]
					}
					if 2*j+1 < w {
						wo = src[row*spitch+2*j+1]
					}
					if e, o := ev[row*dpitch+j], od[row*dpitch+j]; e != we || o != wo {
						t.Fatalf("%s w=%d row %d j=%d: got %v %v, want %v %v", kern, w, row, j, e, o, we, wo)
					}
				}
			}
		}
	}
}

func TestNewPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted a zero stride")
		}
	}()
	New(Geom{H: 4, W: 4, KH: 3, KW: 3, SH: 0, SW: 1, OH: 2, OW: 2}, 1, 0, 1, "generic")
}

// TestRunWithOtherScratch checks that a scratch buffer of another
// geometry is refused, not written past.
func TestRunWithOtherScratch(t *testing.T) {
	small, big := New(geomFor(7, 7, 3, 1, 1, 1, 1, 1), 1, 0, 6, ""), New(geomFor(14, 14, 3, 1, 1, 1, 1, 1), 1, 0, 6, "")
	s := small.Scratch()
	defer func() {
		if recover() == nil {
			t.Error("RunWith with another Conv's scratch did not panic")
		}
	}()
	big.RunWith(s, make([]float32, 196), 0, make([]float32, 196), 0, make([]float32, 9), make([]float32, 1))
}
