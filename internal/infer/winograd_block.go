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
// measured) beside the GEMM's packed B; blocks may reach winoBlockMax
// tiles whatever their channels, for the GEMMs' n.
const (
	winoBlockFloats = 1 << 18
	winoBlockMax    = 64
)

// winoReuse bounds the weights every block reads again, a2 x cin x cout,
// to winoReuse times the block's V and M: past it the weights streamed
// from L3 cost more than the blocks save (BenchmarkConv, one thread:
// blocks of 49 tiles were faster than the phased path at 128 channels,
// slower at 256 and 512).
const winoReuse = 2

// winoMinUnits is the fewest blocks a layer runs blocked with: fewer cannot
// be shared between two threads when one runs at half speed, and the
// phased path splits each phase instead.
const winoMinUnits = 4

// blockTiles is the tiles per block of the blocked path for this layer, or
// 0 for the phased path: the block, of at most the L2 bound's tiles, whose
// GEMMs waste the fewest columns (winoCols), of an image's tiles cut in
// equal parts or of several whole images, the larger on a tie, with at
// least winoMinUnits blocks in the layer and at most winoReuse's weights. So a block is an image's or a
// part's tile rows where it can be: ResNet-50 at 224x224 gets 49 tiles
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
	per := wc.th * wc.tw
	hi := max(winoBlockFloats/(wc.a2*(wc.g.c+wc.cout)), winoBlockMax)
	best, waste := 0, 0.0
	try := func(t int) {
		if t < 16 || t > hi || (wc.tiles+t-1)/t < winoMinUnits || wc.g.c*wc.cout > winoReuse*t*(wc.g.c+wc.cout) {
			return
		}
		if w := float64(winoCols(t)) / float64(t); best == 0 || w < waste-1e-9 || (w < waste+1e-9 && t > best) {
			best, waste = t, w
		}
	}
	for parts := 1; parts <= per/16; parts++ {
		try((per + parts - 1) / parts)
	}
	for k := 2; k*per <= hi; k++ {
		try(k * per)
	}
	return best
}

// winoCols is the columns the GEMM kernel computes for n columns: 48-wide
// tiles (AVX-512's 8x48, which PackA picks for ResNet's channel counts), a
// 16-wide narrow one for the last 3 to 16, one gemv column each for the
// last 1 or 2 (see gemm's newJob). Other kernels' tiles are 16 wide or
// narrower, where the choice matters less.
func winoCols(n int) int {
	full := n / 48 * 48
	switch r := n - full; {
	case r == 0 || (r <= 2 && full > 0):
		return n
	case r <= 16:
		return full + 16
	}
	return full + 48
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
