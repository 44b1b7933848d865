package infer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randData(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

var geoms = []geom{
	{c: 3, h: 9, w: 11, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1},
	{c: 2, h: 10, w: 7, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1},
	{c: 4, h: 5, w: 5, kh: 1, kw: 1, sh: 2, sw: 2},
	{c: 1, h: 13, w: 8, kh: 7, kw: 7, sh: 2, sw: 2, pt: 3, pl: 3},
	{c: 2, h: 6, w: 9, kh: 2, kw: 3, sh: 1, sw: 3, pt: 0, pl: 2},
	// Output rows wider than a vector (im2col's CopyRows and
	// CopyRowsEvens), odd and even widths, and padding past the kernel.
	{c: 2, h: 12, w: 37, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1},
	{c: 1, h: 15, w: 70, kh: 7, kw: 7, sh: 2, sw: 2, pt: 3, pl: 3},
	{c: 2, h: 9, w: 41, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1},
	{c: 1, h: 4, w: 20, kh: 2, kw: 2, sh: 1, sw: 1, pt: 3, pl: 3},
}

// TestIm2colSource compares the implicit im2col of a CNHW batch with a
// direct reading of the definition, over blocks of every offset and width.
func TestIm2colSource(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for gi, g := range geoms {
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("g%d/n%d", gi, n), func(t *testing.T) {
				g.oh = (g.h+2*g.pt-g.kh)/g.sh + 1
				g.ow = (g.w+2*g.pl-g.kw)/g.sw + 1
				in := randData(rng, g.c*n*g.h*g.w)
				src := &im2colSource{in: in, g: g, n: n}
				rows, cols := g.c*g.kh*g.kw, n*g.oh*g.ow
				want := func(r, j int) float32 {
					kx, ky, ci := r%g.kw, (r/g.kw)%g.kh, r/(g.kw*g.kh)
					b, oy, ox := j/(g.oh*g.ow), (j/g.ow)%g.oh, j%g.ow
					iy, ix := oy*g.sh-g.pt+ky, ox*g.sw-g.pl+kx
					if iy < 0 || iy >= g.h || ix < 0 || ix >= g.w {
						return 0
					}
					return in[((ci*n+b)*g.h+iy)*g.w+ix]
				}
				for _, blk := range [][4]int{{0, rows, 0, cols}, {1, rows - 1, 3, cols - 5}, {rows - 1, 1, cols - 1, 1}, {0, 2, g.ow - 1, 2 * g.ow}} {
					r0, kc, j0, nc := blk[0], blk[1], blk[2], blk[3]
					if kc < 1 || nc < 1 || j0+nc > cols || r0+kc > rows {
						continue
					}
					dst := make([]float32, kc*nc)
					for i := range dst {
						dst[i] = float32(math.NaN()) // every element must be written
					}
					src.Rows(dst, r0, kc, j0, nc)
					for p := range kc {
						for q := range nc {
							if got, w := dst[p*nc+q], want(r0+p, j0+q); got != w {
								t.Fatalf("block %v: B[%d,%d] = %v, want %v", blk, r0+p, j0+q, got, w)
							}
						}
					}
				}
			})
		}
	}
}

func TestMaxPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for gi, g := range geoms {
		for _, ceil := range []bool{false, true} {
			g.oh = poolOut(g.h, g.kh, g.sh, g.pt, g.pt, ceil)
			g.ow = poolOut(g.w, g.kw, g.sw, g.pl, g.pl, ceil)
			planes := 2 * g.c
			in := randData(rng, planes*g.h*g.w)
			got := make([]float32, planes*g.oh*g.ow)
			maxPool(got, in, planes, g)
			for p := range planes {
				for oy := range g.oh {
					for ox := range g.ow {
						m := float32(math.Inf(-1))
						for ky := range g.kh {
							for kx := range g.kw {
								iy, ix := oy*g.sh-g.pt+ky, ox*g.sw-g.pl+kx
								if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
									m = max(m, in[(p*g.h+iy)*g.w+ix])
								}
							}
						}
						if v := got[(p*g.oh+oy)*g.ow+ox]; v != m {
							t.Fatalf("geom %d ceil %v: out[%d,%d,%d] = %v, want %v", gi, ceil, p, oy, ox, v, m)
						}
					}
				}
			}
		}
	}
}

// TestSubsample checks the B of a strided 1x1 convolution against the
// definition: pixel (oy*sh, ox*sw) of each plane.
func TestSubsample(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, g := range []geom{{c: 3, h: 7, w: 9, kh: 1, kw: 1, sh: 2, sw: 2}, {c: 2, h: 6, w: 5, kh: 1, kw: 1, sh: 3, sw: 1}, {c: 1, h: 4, w: 8, kh: 1, kw: 1, sh: 1, sw: 3}, {c: 2, h: 9, w: 56, kh: 1, kw: 1, sh: 2, sw: 2}, {c: 1, h: 5, w: 67, kh: 1, kw: 1, sh: 2, sw: 2}} {
		g.oh, g.ow = (g.h-1)/g.sh+1, (g.w-1)/g.sw+1
		planes := 2 * g.c
		in := randData(rng, planes*g.h*g.w)
		got := make([]float32, planes*g.oh*g.ow+1)
		got[len(got)-1] = 42 // guard
		subsample(got, in, planes, g)
		for p := range planes {
			for oy := range g.oh {
				for ox := range g.ow {
					if v, w := got[(p*g.oh+oy)*g.ow+ox], in[(p*g.h+oy*g.sh)*g.w+ox*g.sw]; v != w {
						t.Fatalf("%+v: out[%d,%d,%d] = %v, want %v", g, p, oy, ox, v, w)
					}
				}
			}
		}
		if got[len(got)-1] != 42 {
			t.Fatalf("%+v: wrote past the output", g)
		}
	}
}
