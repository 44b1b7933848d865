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
// tiles floats, so they stay in L2 (2 MiB per core on the machine
// measured) beside the GEMM's packed B.
const winoBlockFloats = 1 << 18

// blockTiles is the tiles per block of the blocked path for this layer, or
// 0 for the phased path.
func (wc *winoConv) blockTiles() int {
	switch {
	case winoBlockForce > 0:
		return winoBlockForce
	case winoBlockForce < 0:
		return 0
	}
	return 0
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
	input, output := wc.input, wc.output
	if wc.m == 4 {
		input, output = wc.input4, wc.output4
	}
	cin, cout := wc.g.c, wc.cout
	vs, ms := wc.strides(np)
	if len(sc.v) < wc.a2*vs {
		sc.v = make([]float32, wc.a2*vs)
	}
	if len(sc.m) < wc.a2*ms {
		sc.m = make([]float32, wc.a2*ms)
	}
	v, m := sc.v, sc.m
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
