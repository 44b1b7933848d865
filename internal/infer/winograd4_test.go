package infer

import (
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/gemm"
)

// TestWino4Kernels checks gemm's F(4x4) vector transforms against the
// float64 definitions (B^T d B and A^T M A with the matrices of
// winograd4.go), for 1 to 40 tiles (masked tails, several passes), with
// guard bands, for each instruction set this CPU has (gemm.Use): what
// TestWinograd's layers cannot tell apart from the Go loops, and that the
// kernels run at all where the CPU has them.
func TestWino4Kernels(t *testing.T) {
	ran := false
	eachKernel(t, func(kern string) {
		if gemm.HasWino4Kernels() {
			ran = true
			t.Run(kern, wino4Kernels)
		}
	})
	if !ran {
		t.Skip("no F(4x4) vector kernels on this CPU or build")
	}
}

// wino4Kernels is TestWino4Kernels for the active kernels.
func wino4Kernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const guard = 16
	for n := 1; n <= 40; n++ {
		ws := n + 1 + 16
		rows := randData(rng, 24*ws+16)
		stride := n + 3
		out := make([]float32, 36*stride+guard)
		for i := range out {
			out[i] = float32(math.NaN())
		}
		if !gemm.WinoInput4(rows, ws, out, stride, n) {
			t.Fatalf("n=%d: WinoInput4 did not run", n)
		}
		for tile := range n {
			for i := range 6 {
				for l := range 6 {
					want := 0.0
					for k := range 6 {
						for j := range 6 {
							want += float64(winoBT4[i][k]) * float64(winoBT4[l][j]) * float64(rows[(4*k+j%4)*ws+tile+j/4])
						}
					}
					if got := out[(6*i+l)*stride+tile]; !(math.Abs(float64(got)-want) <= 1e-5*(1+math.Abs(want))) {
						t.Fatalf("n=%d tile %d ξ=%d: input %v, want %v", n, tile, 6*i+l, got, want)
					}
				}
			}
		}
		for x := range 36 { // untouched past n in each row
			for q := n; q < stride && x*stride+q < len(out); q++ {
				if !math.IsNaN(float64(out[x*stride+q])) {
					t.Fatalf("n=%d: input wrote ξ=%d column %d", n, x, q)
				}
			}
		}
		for _, relu := range []bool{false, true} {
			m := randData(rng, 36*stride+16)
			ldo := 4*n + 5
			dst := make([]float32, 4*ldo+guard)
			for i := range dst {
				dst[i] = float32(math.NaN())
			}
			bias := float32(0.25)
			if !gemm.WinoOutput4(m, stride, n, dst, ldo, &bias, relu) {
				t.Fatalf("n=%d: WinoOutput4 did not run", n)
			}
			for r := range 4 {
				for q := range ldo {
					got := dst[r*ldo+q]
					if q >= 4*n {
						if !math.IsNaN(float64(got)) {
							t.Fatalf("n=%d: output wrote row %d column %d", n, r, q)
						}
						continue
					}
					tile, c := q/4, q%4
					want := float64(bias)
					for i := range 6 {
						for j := range 6 {
							want += float64(winoAT4[r][i]) * float64(winoAT4[c][j]) * float64(m[(6*i+j)*stride+tile])
						}
					}
					if relu && want < 0 {
						want = 0
					}
					if !(math.Abs(float64(got)-want) <= 1e-5*(1+math.Abs(want))) {
						t.Fatalf("n=%d relu=%v tile %d (%d,%d): output %v, want %v", n, relu, tile, r, c, got, want)
					}
				}
			}
			for i := 4 * ldo; i < len(dst); i++ {
				if !math.IsNaN(float64(dst[i])) {
					t.Fatalf("n=%d: output guard band written at %d", n, i)
				}
			}
		}
	}
}

// TestWinoTileChoice checks the per-layer choice on ResNet-50 v1.5 at
// 224x224 for each kernel this CPU has: with AVX-512, F(4x4) on the 3x3
// layers with 56x56 and 28x28 outputs (three each), F(2x2) on the 14x14 and
// 7x7 ones (five and two); with AVX2 F(4x4) down to 14x14; with the
// generic GEMM kernel F(4x4) on all of them.
func TestWinoTileChoice(t *testing.T) {
	if raceEnabled {
		t.Skip("the per-kernel Winograd rule, no concurrency: make test-full runs it without -race")
	}
	if testing.Short() {
		t.Skip("loads ResNet-50")
	}
	want := map[string]map[[3]int]int{
		"avx512":  {{56, 56, 4}: 3, {28, 28, 4}: 3, {14, 14, 2}: 5, {7, 7, 2}: 2},
		"avx2":    {{56, 56, 4}: 3, {28, 28, 4}: 3, {14, 14, 4}: 5, {7, 7, 2}: 2},
		"generic": {{56, 56, 4}: 3, {28, 28, 4}: 3, {14, 14, 4}: 5, {7, 7, 4}: 2},
	}
	eachKernel(t, func(kern string) {
		w, ok := want[kern]
		if !ok {
			return
		}
		c, err := LoadFile(filepath.Join(fixtures, "models/resnet50-opset11.onnx"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		sizes := convOutSizes(c.net)
		if sizes == nil {
			t.Fatal("no output sizes")
		}
		got := map[[3]int]int{} // output side, tile -> layers
		for _, l := range c.net.layers {
			if l.wino != nil {
				got[[3]int{sizes[l][0], sizes[l][1], l.wino.m}]++
			}
		}
		if !maps.Equal(got, w) {
			t.Errorf("%s: Winograd layers by (oh, ow, tile): %v, want %v", kern, got, w)
		}
	})
}

// TestWinogradErrorBySize measures F(2x2) and F(4x4) against the float64
// definition on ResNet-50's 3x3 layer sizes (channels, plane) at batch 1,
// on post-ReLU-like inputs: the worst error relative to sum |w*x| and the
// relative L2 error of the whole output, per size (BENCHMARKS.md, issue 12).
func TestWinogradErrorBySize(t *testing.T) {
	if raceEnabled {
		t.Skip("float64 references of ResNet-50's layers, no concurrency: make test-full runs it without -race")
	}
	if testing.Short() {
		t.Skip("float64 references of ResNet-50's layers")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range [][2]int{{64, 56}, {128, 28}, {256, 14}, {512, 7}} {
		c, h := s[0], s[1]
		g := geom{c: c, h: h, w: h, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1, oh: h, ow: h}
		in := randData(rng, c*h*h)
		for i, v := range in {
			in[i] = max(v, 0)
		}
		w := randData(rng, c*c*9)
		scale := float32(1 / math.Sqrt(float64(c*9)))
		for i := range w {
			w[i] *= scale
		}
		bias := randData(rng, c)
		want, sum := convRef(in, w, bias, nil, g, 1, c, false)
		for _, m := range []int{2, 4} {
			wc := newWinoConv(g, 1, c, newWinoWeights(w, c, c, m))
			wc.bias = bias
			vs, ms := wc.bufSizes()
			got := make([]float32, len(want))
			wc.run(got, in, make([]float32, vs), make([]float32, ms))
			worst, e2, w2 := 0.0, 0.0, 0.0
			for i := range want {
				d := float64(got[i]) - want[i]
				worst = max(worst, math.Abs(d)/sum[i])
				e2 += d * d
				w2 += want[i] * want[i]
			}
			l2 := math.Sqrt(e2 / w2)
			limit := winoLayerLimit
			if m == 4 {
				limit = wino4LayerLimit
			}
			if !(worst < limit) {
				t.Errorf("F(%dx%d) c%d %dx%d: worst error %.3g of sum|w*x|, want < %g", m, m, c, h, h, worst, limit)
			}
			t.Logf("F(%dx%d) c%d %dx%d: worst %.3g of sum|w*x|, relative L2 %.3g", m, m, c, h, h, worst, l2)
		}
	}
}
