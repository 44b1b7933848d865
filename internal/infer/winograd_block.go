package infer

import "github.com/mlserve/mlserve/internal/gemm"

// The blocked Winograd path: the layer is one parallel region whose units
// are blocks of tiles (the tiles of all images in a row, p = (b*th+ty)*tw+tx).
// A thread takes a block and runs all of it: the input transform of every
// input channel for those tiles, the a2 GEMMs on its own V and M
// (gemm.MulSerial) and the output transform with the epilogue, then takes
// the next. One fork-join per layer instead of three per chunk, and V and M
// stay in the cache of the core that made them, where the phased path
// (winoConv.run) streams them through both cores' caches and waits three
// times for the slower thread.

// winoBlockForce, when above 0, is the test hook that makes every layer
// run blocked with that many tiles per block; below 0, phased.
var winoBlockForce = 0

// winoBlockFloats bounds a block's V and M together, a2 x (cin + cout) x
// tiles floats (1 MiB): about the L2 of one core on the machines measured
// (AMD EPYC Zen 4: 1 MiB per core; lscpu's "2 MiB" is two instances), so
// with the GEMM's packed B part of them lives in L3. The bound is session
// 4's (BENCHMARKS.md, issue 12, blocked Winograd), not re-derived from the
// cache size since. Blocks may reach winoBlockMax tiles whatever their
// channels, for the GEMMs' n.
const (
	winoBlockFloats = 1 << 18
	winoBlockMax    = 64
)

// winoReuse bounds the weights every block reads again, a2 x cin x cout,
// to below winoReuse times the block's V and M: past it the weights streamed
// from L3 cost more than the blocks save (BenchmarkConv, one thread:
// blocks of 49 tiles were faster than the phased path at 128 channels,
// slower at 256 and 512).
const winoReuse = 2

// winoMinUnits is the fewest blocks a layer runs blocked with: fewer cannot
// be shared between two threads when one runs at half speed, and the
// phased path splits each phase instead.
const winoMinUnits = 4

// blockTiles is the tiles per block of the blocked path for this layer, or
// 0 for the phased path: of the sizes from 16 tiles to the L2 bound, the
// one whose GEMMs compute the fewest wasted columns over the layer
// (gemm's PackedA.Cols, the last, partial block included), the larger on
// a tie, with at least winoMinUnits blocks and at most winoReuse's
// weights. With AVX-512's 8x48 tiles ResNet-50 at 224x224 gets 49 tiles
// (a quarter of a 56x56 image in F(4x4), a 28x28 image at batch 8); the
// 14x14 and 7x7 layers, 256 and 512 channels, run phased, and so does the
// 28x28 one at batch 1 (one block).
func (wc *winoConv) blockTiles() int {
	switch {
	case winoBlockForce > 0:
		return winoBlockForce
	case winoBlockForce < 0:
		return 0
	}
	cin, cout, u := wc.g.c, wc.cout, wc.w.u[0]
	hi := min(max(winoBlockFloats/(wc.a2*(cin+cout)), winoBlockMax), wc.tiles/winoMinUnits)
	best, waste := 0, 0.0
	for t := 16; t <= hi; t++ {
		if cin*cout >= winoReuse*t*(cin+cout) {
			continue
		}
		full, last := wc.tiles/t, wc.tiles%t
		cols := full * u.Cols(t)
		if last > 0 {
			cols += u.Cols(last)
		}
		w := float64(cols) / float64(wc.tiles)
		if best == 0 || w < waste-1e-9 {
			best, waste = t, w
		} else if w <= waste+1e-9 {
			best = t // a tie goes to the larger t
		}
	}
	return best
}

// runBlocked is run on the blocked path.
func (wc *winoConv) runBlocked(dst, in []float32) {
	units := (wc.tiles + wc.blk - 1) / wc.blk
	gemm.Parallel(units, 1, func(lo, hi int) {
		sc := winoScratches.Get().(*winoScratch)
		for u := lo; u < hi; u++ {
			p0 := u * wc.blk
			wc.block(dst, in, p0, min(wc.blk, wc.tiles-p0), sc)
		}
		winoScratches.Put(sc)
	})
}

// block computes the outputs of the tiles p0 <= p < p0+np on the calling
// goroutine, with V and M in sc.
func (wc *winoConv) block(dst, in []float32, p0, np int, sc *winoScratch) {
	input, output := wc.transforms()
	cin, cout := wc.g.c, wc.cout
	vs, ms := wc.strides(np)
	v, m := wc.blockBufs(sc, np)
	sc.planeOf = 0
	for c := range cin {
		input(v, in, c, p0, np, sc)
	}
	for x := range wc.a2 {
		gemm.MulSerial(m[x*ms:x*ms+cout*np], wc.w.u[x], v[x*vs:x*vs+cin*np], np)
	}
	for k := range cout {
		output(dst, m, k, p0, np)
	}
}

// blockBufs returns a block's V and M of np tiles in sc, grown when short.
func (wc *winoConv) blockBufs(sc *winoScratch, np int) (v, m []float32) {
	vs, ms := wc.strides(np)
	if len(sc.v) < wc.a2*vs {
		sc.v = make([]float32, wc.a2*vs)
	}
	if len(sc.m) < wc.a2*ms {
		sc.m = make([]float32, wc.a2*ms)
	}
	return sc.v, sc.m
}
