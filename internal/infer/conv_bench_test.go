package infer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/mlserve/mlserve/internal/gemm"
)

// convBenchShapes are ResNet-50 v1.5's convolutions that do not run as a
// plain GEMM (stem, 3x3, 1x1 stride 2), at 224x224: cin, h (= w), cout,
// kernel, stride, pad.
var convBenchShapes = [][6]int{
	{3, 224, 64, 7, 2, 3},
	{64, 56, 64, 3, 1, 1},
	{128, 56, 128, 3, 2, 1},
	{256, 28, 256, 3, 2, 1},
	{512, 14, 512, 3, 2, 1},
	{128, 28, 128, 3, 1, 1},
	{256, 14, 256, 3, 1, 1},
	{512, 7, 512, 3, 1, 1},
	{256, 56, 512, 1, 2, 0},
}

// BenchmarkConv times one convolution as execOp.run does it (Winograd, the
// subsampled input of a strided 1x1, or im2col made inside the GEMM), on
// the active kernel (MLSERVE_GEMM_KERNEL forces one, with its Winograd
// transforms); compare with benchstat.
func BenchmarkConv(b *testing.B) {
	if k := os.Getenv("MLSERVE_GEMM_KERNEL"); k != "" {
		defer gemm.Use(gemm.Kernel())
		if err := gemm.Use(k); err != nil {
			b.Fatal(err)
		}
	}
	for _, s := range convBenchShapes {
		cin, h, cout, k, st, pad := s[0], s[1], s[2], s[3], s[4], s[5]
		for _, n := range []int{1, 8} {
			b.Run(fmt.Sprintf("c%d_h%d_k%d_s%d/b%d", cin, h, k, st, n), func(b *testing.B) {
				g := geom{c: cin, h: h, w: h, kh: k, kw: k, sh: st, sw: st, pt: pad, pl: pad}
				g.oh = (h+2*pad-k)/st + 1
				g.ow = g.oh
				rng := rand.New(rand.NewPCG(1, 2))
				in := randData(rng, cin*n*h*h)
				w := gemm.PackA(randData(rng, cout*cin*k*k), cout, cin*k*k)
				cols := n * g.oh * g.ow
				dst := make([]float32, cout*cols)
				ep := gemm.Epilogue{Bias: randData(rng, cout), ReLU: true}
				for _, m := range []int{2, 4} {
					if k != 3 || st != 1 {
						break
					}
					ww := newWinoWeights(randData(rng, cout*cin*9), cout, cin, m)
					for _, path := range []string{"phased", "blocked"} {
						b.Run(fmt.Sprintf("wino%d/%s", m, path), func(b *testing.B) {
							benchWino(b, g, n, cout, ww, ep.Bias, in, dst, path)
						})
					}
				}
				b.Run("direct", func(b *testing.B) {
					src := &im2colSource{g: g, n: n}
					var sub []float32
					if k == 1 {
						sub = make([]float32, cin*cols)
					}
					for b.Loop() {
						if sub != nil {
							subsample(sub, in, cin*n, g)
							gemm.Mul(dst, w, sub, cols, ep)
							continue
						}
						src.in = in
						gemm.MulSource(dst, w, src, cols, ep)
					}
					flops := 2 * float64(cout*cols) * float64(cin*k*k)
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			})
		}
	}
}

// benchWino times one Winograd convolution on the phased path or the
// blocked one (its tiles per block as blockTiles picks them, or
// MLSERVE_WINO_BLOCK's).
func benchWino(b *testing.B, g geom, n, cout int, ww *winoWeights, bias, in, dst []float32, path string) {
	defer func(v int) { winoBlockForce = v }(winoBlockForce)
	winoBlockForce = -1
	if path == "blocked" {
		winoBlockForce = 0
		if s := os.Getenv("MLSERVE_WINO_BLOCK"); s != "" {
			if _, err := fmt.Sscan(s, &winoBlockForce); err != nil {
				b.Fatal(err)
			}
		}
	}
	wc := newWinoConv(g, n, cout, ww)
	if path == "blocked" && wc.blk == 0 {
		b.Skip("this layer runs phased")
	}
	wc.bias, wc.relu = bias, true
	vs, ms := wc.bufSizes()
	v, m := make([]float32, vs), make([]float32, ms)
	for b.Loop() {
		wc.run(dst, in, v, m)
	}
	b.ReportMetric(2*float64(len(dst))*float64(g.c*9)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(wc.blk), "tiles/block")
}

// BenchmarkMaxPool times ResNet's 3x3 stride-2 max pool of the stem output
// (64 x 112 x 112 per image).
func BenchmarkMaxPool(b *testing.B) {
	g := geom{c: 64, h: 112, w: 112, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1, oh: 56, ow: 56}
	rng := rand.New(rand.NewPCG(1, 2))
	in := randData(rng, 64*112*112)
	dst := make([]float32, 64*56*56)
	for b.Loop() {
		maxPool(dst, in, 64, g)
	}
}

// BenchmarkIm2col times making B of the direct convolutions alone, row by
// row in blocks of nc columns as gemm.MulSource asks for it (1008 columns:
// the 8x48 tile's blocks; 1024 for AVX2's 6x16), at batch 1.
func BenchmarkIm2col(b *testing.B) {
	for _, s := range convBenchShapes {
		cin, h, k, st, pad := s[0], s[1], s[3], s[4], s[5]
		if k == 1 || st == 1 {
			continue
		}
		for _, nc := range []int{1008, 1024} {
			b.Run(fmt.Sprintf("c%d_h%d_k%d_s%d/nc%d", cin, h, k, st, nc), func(b *testing.B) {
				g := geom{c: cin, h: h, w: h, kh: k, kw: k, sh: st, sw: st, pt: pad, pl: pad}
				g.oh = (h+2*pad-k)/st + 1
				g.ow = g.oh
				src := &im2colSource{in: randData(rand.New(rand.NewPCG(1, 2)), cin*h*h), g: g, n: 1}
				rows, cols := cin*k*k, g.oh*g.ow
				row := make([]float32, nc)
				for b.Loop() {
					for j0 := 0; j0 < cols; j0 += nc {
						w := min(nc, cols-j0)
						for r := range rows {
							src.Rows(row[:w], r, 1, j0, w)
						}
					}
				}
			})
		}
	}
}
