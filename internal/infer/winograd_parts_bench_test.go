package infer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/mlserve/mlserve/internal/gemm"
)

// BenchmarkWinoParts times the parts of one Winograd layer on the calling
// goroutine, unit by unit as the layer runs them (the blocked path's blocks,
// else the phased path's chunks): "split" the phase split of the input
// rows alone, "input" the input transform with its split, "gemm" the a2
// products, "output" the output transform with bias and ReLU, "all" the
// three in a row. Each reports its ms per layer; compare with benchstat.
// MLSERVE_WINO_BLOCK forces the tiles per block (winoBlockForce),
// MLSERVE_GEMM_KERNEL the kernel (as for BenchmarkConv).
func BenchmarkWinoParts(b *testing.B) {
	if k := os.Getenv("MLSERVE_GEMM_KERNEL"); k != "" {
		defer gemm.Use(gemm.Kernel())
		if err := gemm.Use(k); err != nil {
			b.Fatal(err)
		}
	}
	defer func(v int) { winoBlockForce = v }(winoBlockForce)
	if s := os.Getenv("MLSERVE_WINO_BLOCK"); s != "" {
		if _, err := fmt.Sscan(s, &winoBlockForce); err != nil {
			b.Fatal(err)
		}
	}
	for _, s := range [][2]int{{64, 56}, {128, 28}, {256, 14}, {512, 7}} {
		c, h := s[0], s[1]
		m := 2
		if h >= 28 {
			m = 4
		}
		for _, n := range []int{1, 8} {
			g := geom{c: c, h: h, w: h, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1, oh: h, ow: h}
			rng := rand.New(rand.NewPCG(1, 2))
			in := randData(rng, c*n*h*h)
			ww := newWinoWeights(randData(rng, c*c*9), c, c, m)
			wc := newWinoConv(g, n, c, ww)
			wc.bias, wc.relu = randData(rng, c), true
			dst := make([]float32, c*n*h*h)
			unit := wc.blk
			if unit == 0 {
				unit = wc.chunk
			}
			for _, part := range []string{"split", "input", "gemm", "output", "all"} {
				b.Run(fmt.Sprintf("c%d_h%d_f%d/b%d/%s", c, h, m, n, part), func(b *testing.B) {
					sc := new(winoScratch)
					for b.Loop() {
						for p0 := 0; p0 < wc.tiles; p0 += unit {
							wc.part(part, dst, in, p0, min(unit, wc.tiles-p0), sc)
						}
					}
					b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/layer")
					b.ReportMetric(float64(unit), "tiles/unit")
				})
			}
		}
	}
}

// part runs one part of the tiles p0 <= p < p0+np as winoConv.block does,
// with V and M in sc.
func (wc *winoConv) part(part string, dst, in []float32, p0, np int, sc *winoScratch) {
	input, output := wc.transforms()
	cin, cout := wc.g.c, wc.cout
	vs, ms := wc.strides(np)
	v, m := wc.blockBufs(sc, np)
	sc.planeOf = 0
	all := part == "all"
	switch {
	case part == "split":
		ws := wc.tw + 1 + 16
		for c := range cin {
			bt := p0 / wc.tw
			for q := p0 % wc.tw; q < np; bt++ {
				wc.planeRows(sc, in, c, bt/wc.th, bt%wc.th, p0, np, ws)
				q += wc.tw
			}
		}
	case part == "input" || all:
		for c := range cin {
			input(v, in, c, p0, np, sc)
		}
	}
	if part == "gemm" || all {
		for x := range wc.a2 {
			gemm.MulSerial(m[x*ms:x*ms+cout*np], wc.w.u[x], v[x*vs:x*vs+cin*np], np)
		}
	}
	if part == "output" || all {
		for k := range cout {
			output(dst, m, k, p0, np)
		}
	}
}
