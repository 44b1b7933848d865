package infer

import "github.com/mlserve/mlserve/internal/gemm"

// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2015). Each 2x2 block of
// output, a tile, is computed from the 4x4 input patch d around it as
//
//	Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
//
// so per tile and channel pair 16 multiplications replace 36. Over a whole
// layer the elementwise products become 16 GEMMs, one per position ξ of
// the 4x4 transformed tile: M[ξ] (cout x tiles) = U[ξ] (cout x cin, the
// weights transformed once at load) * V[ξ] (cin x tiles, the transformed
// input). The transforms use only additions, subtractions and halvings, so
// the error stays at float32 rounding (measured in winograd_test.go).
//
//	B^T = | 1  0 -1  0 |   G = | 1    0    0  |   A^T = | 1 1  1  0 |
//	      | 0  1  1  0 |       | 1/2  1/2  1/2 |         | 0 1 -1 -1 |
//	      | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
//	      | 0  1  0 -1 |       | 0    0    1  |
//
// F(4x4, 3x3) (winograd4.go) works the same way on 6x6 input tiles with 36
// GEMMs; winoTile picks per layer. The files split by job: the choice and
// the phased run (here), the blocked run (winograd_block.go), the weights
// (winograd_weights.go), F(2x2)'s transforms (winograd2.go) and F(4x4)'s
// (winograd4.go).

// winoMinChannels, when above 0, is the test hook that replaces
// winoMinChannelsFor's count.
var winoMinChannels = 0

// winoMinChannelsFor is the channel count (input and output) from which a
// 3x3 stride-1 convolution runs as Winograd. The transforms cost about
// 40*(cin+cout) operations per tile against the 20*cin*cout multiply-adds
// they save, so they pay off with enough channels. Measured with
// BenchmarkConv on one core: with the AVX-512 transform kernels Winograd
// was 1.26-1.7x the direct GEMM from 64 to 512 channels (ResNet-50 has
// none fewer); with the Go loops 1.15-1.5x from 128 channels, but 0.8x at
// 64.
func winoMinChannelsFor() int {
	switch {
	case winoMinChannels > 0:
		return winoMinChannels
	case gemm.HasWinoKernels():
		return 64
	}
	return 128
}

// winoEnabled is the test hook that turns Winograd off for models loaded
// from now on.
var winoEnabled = true

// winoForceTile, when 2 or 4, is the test hook that makes every layer
// useWino picks run as F(winoForceTile x winoForceTile).
var winoForceTile = 0

// useWino reports whether a convolution layer may run as Winograd, which
// winoTile then decides.
func useWino(l *layer) bool {
	return winoEnabled && winoEligible(l)
}

// winoTile is the output tile side a convolution layer runs with: 4 for
// F(4x4), 2 for F(2x2), 0 for the direct GEMM, for output planes oh x ow
// (0 x 0: unknown). F(4x4) needs its vector transforms, 64 channels and
// enough tiles per image (winoMinTiles4), or the generic GEMM kernel
// (winoGenericTile4); F(2x2) winoMinChannelsFor's channels.
//
// The choice holds for batches 1 and 8 alike, so the weights are prepared
// once, in one form. Measured in session 6 (BENCHMARKS.md, issue 12,
// "Session 6: convolutions"), ResNet-50's 512-channel 7x7 layers (the
// likeliest to want direct at batch 1 and Winograd at batch 8): in the
// network at one thread, F(2x2) 2.23-2.31 ms against 2.46-2.47 direct at
// batch 1 and 13.2 against 18.4-18.8 at batch 8, at two threads 1.18-1.24
// against 1.39-1.41 at batch 1; F(4x4) is 0.41x F(2x2) there at batch 1
// and even with it at batch 8. With AVX2 the same holds (BenchmarkConv:
// F(2x2) 1.1-1.5x direct at batch 1, F(4x4) and F(2x2) even at batch 8).
func winoTile(l *layer, oh, ow int) int {
	ch := min(l.cin, l.cout)
	switch {
	case !useWino(l):
		return 0
	case winoForceTile != 0 && ch >= winoMinChannelsFor():
		return winoForceTile
	case winoForceTile == 0 && winoGenericTile4() && ch >= 32:
		return 4
	case winoForceTile == 0 && gemm.HasWino4Kernels() && ch >= 64 && ((oh+3)/4)*((ow+3)/4) >= winoMinTiles4():
		return 4
	case ch >= winoMinChannelsFor():
		return 2
	}
	return 0
}

// winoGenericTile4 reports whether every eligible layer from 32 channels
// runs as F(4x4) with the Go transforms: with the generic GEMM kernel (a
// purego build, or MLSERVE_GEMM_KERNEL=generic), whose scalar products
// cost so much that the fewest multiplications win whatever the transforms
// cost. BenchmarkConv -tags purego, one core, GFLOP/s of the direct
// algorithm (direct / F(2x2) / F(4x4)): 64 ch 56x56 2.5 / 4.8 / 5.6-6.0,
// 128 ch 28x28 2.9 / 5.7-6.1 / 7.8, 256 ch 14x14 2.8 / 5.6 / 7.1-7.2,
// 512 ch 7x7 2.5-2.7 / 4.4-5.3 / 7.0-7.7 at batch 1, and at batch 8 2.5-3.0
// / 4.8-6.6 / 7.1-9.3. Below 64 (shapes added to convBenchShapes for the
// run, 56x56, batch 1): 32 ch 3.2 / 3.9-4.1 / 3.9-4.8; 16 ch 1.7-3.0 /
// 2.7-3.0 / 2.4-2.6 and 8 ch 2.5 / 2.0-2.5 / 1.6-1.7, where Winograd no
// longer pays.
func winoGenericTile4() bool { return gemm.Kernel() == "generic" }

// winoMinTiles4 is the 4x4 tiles per image from which winoTile picks
// F(4x4). BenchmarkConv on one core (BENCHMARKS.md, issue 12, "Winograd
// F(4x4,3x3)"), F(4x4) against the best of F(2x2) and direct at batch 1
// and 8:
//   - with AVX-512 (F(2x2) has vector transforms too): 1.39-1.46x at 56x56
//     (196 tiles of 4x4), 1.33-1.41x at 28x28 (49), but 0.83-0.91x at
//     14x14 (16) and 0.41x at 7x7 (4) at batch 1: with few tiles the 36
//     GEMMs are thin and read 2.25x the weights of F(2x2)'s 16. 32 sits
//     between the measured 16 and 49.
//   - with AVX2 (F(2x2) runs Go loops): 2.0-2.4x at 56x56 and 28x28,
//     1.15-1.4x at 14x14, 0.5x at 7x7 at batch 1: 16.
func winoMinTiles4() int {
	if gemm.HasWinoKernels() {
		return 32
	}
	return 16
}

// convOutSizes returns the output plane (oh, ow) of every convolution at
// the model's input size, from a batch-1 plan (no arena: nothing is
// allocated for activations); nil when the plan fails, which loading
// reports anyway when the model first runs.
func convOutSizes(net *network) map[*layer][2]int {
	p, err := newPlan(net, 1, false)
	if err != nil {
		return nil
	}
	sizes := map[*layer][2]int{}
	for _, o := range p.ops {
		if o.l.kind == kConv {
			sizes[o.l] = [2]int{o.g.oh, o.g.ow}
		}
	}
	return sizes
}

// winoEligible reports whether a convolution layer can run as Winograd.
func winoEligible(l *layer) bool {
	return l.kind == kConv && l.kh == 3 && l.kw == 3 && l.sh == 1 && l.sw == 1
}

// winoChunkFloats bounds V and M ((m+2)^2 x channels x tiles each) per
// chunk of tiles: 4 MiB, so large batches do not grow the arena by the full
// size.
const winoChunkFloats = 1 << 20

// winoConv runs one Winograd convolution on CNHW activations.
type winoConv struct {
	g         geom
	n         int // batch
	cout      int
	m, a2     int // output tile side (2 or 4) and transformed tile size (m+2)^2
	th, tw    int // tiles per image: ceil(oh/m) x ceil(ow/m)
	tiles     int // n * th * tw
	chunk     int // tiles per pass of the phased path
	blk       int // tiles per block of the blocked path (winograd_block.go); 0: phased
	w         *winoWeights
	bias, res []float32
	relu      bool
	cs, bs    [][]float32 // the a2 products' C and B, for gemm.MulMany
}

// newWinoConv plans the convolution of geometry g, batch n and cout output
// channels with the transformed weights w (which set the tile size).
func newWinoConv(g geom, n, cout int, w *winoWeights) *winoConv {
	m := w.m
	a := w.alpha()
	wc := &winoConv{g: g, n: n, cout: cout, m: m, a2: a * a, th: (g.oh + m - 1) / m, tw: (g.ow + m - 1) / m, w: w}
	wc.tiles = n * wc.th * wc.tw
	wc.chunk = wc.tiles
	if per := wc.a2 * max(g.c, cout); per*wc.chunk > winoChunkFloats {
		wc.chunk = max(winoChunkFloats/per/32*32, 32)
	}
	wc.blk = wc.blockTiles()
	if wc.blk == 0 {
		wc.cs, wc.bs = make([][]float32, wc.a2), make([][]float32, wc.a2)
	}
	return wc
}

// winoPad pads the stride between the matrices of V and of M by one cache
// line. Unpadded, channels x tiles is often a multiple of 4 KiB (64 x 784
// floats at 56x56), and the streams the transforms read or write at once
// fall in one L1 set: the padding made the 56x56 layer 2x faster
// (BenchmarkConv).
const winoPad = 16

// strides are the floats between consecutive matrices of V and of M for
// chunks of np tiles.
func (wc *winoConv) strides(np int) (vs, ms int) {
	return wc.g.c*np + winoPad, wc.cout*np + winoPad
}

// bufSizes are the floats of the V and M scratch buffers: none on the
// blocked path, whose blocks have their own.
func (wc *winoConv) bufSizes() (v, m int) {
	if wc.blk > 0 {
		return 0, 0
	}
	vs, ms := wc.strides(wc.chunk)
	return wc.a2 * vs, wc.a2 * ms
}

// transforms are the input and output transforms of the layer's tile size.
func (wc *winoConv) transforms() (
	input func(v, in []float32, c, p0, np int, sc *winoScratch),
	output func(dst, m []float32, k, p0, np int),
) {
	if wc.m == 4 {
		return wc.input4, wc.output4
	}
	return wc.input, wc.output
}

// run computes dst [cout, n, oh, ow] from in [cin, n, h, w] with the
// epilogue (bias, residual as dst's layout, ReLU): blocked where blockTiles
// chose blocks, else phased, chunk by chunk, in three fork-joins (the input
// transform by input channels, the products, the output transform by
// output channels) with v and m as scratch (bufSizes).
func (wc *winoConv) run(dst, in, v, m []float32) {
	if wc.blk > 0 {
		wc.runBlocked(dst, in)
		return
	}
	input, output := wc.transforms()
	for p0 := 0; p0 < wc.tiles; p0 += wc.chunk {
		np := min(wc.chunk, wc.tiles-p0)
		cin, cout := wc.g.c, wc.cout
		parallelFor(cin, 4, func(lo, hi int) {
			sc := winoScratches.Get().(*winoScratch)
			sc.planeOf = 0
			for c := lo; c < hi; c++ {
				input(v, in, c, p0, np, sc)
			}
			winoScratches.Put(sc)
		})
		vs, ms := wc.strides(np)
		for x := range wc.a2 {
			wc.cs[x], wc.bs[x] = m[x*ms:x*ms+cout*np], v[x*vs:x*vs+cin*np]
		}
		gemm.MulMany(wc.cs, wc.w.u, wc.bs, np)
		parallelFor(cout, 4, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				output(dst, m, k, p0, np)
			}
		})
	}
}
