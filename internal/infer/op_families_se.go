package infer

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/gemm"
)

// The squeeze-and-excite block, y = x * s with s = gate(fc(GAP(x))) per
// channel and image (EfficientNet, MobileNetV3), without passes of its own
// over x: the pool is summed by the grouped convolution that makes x while
// each plane is in cache (poolInProducer), and the product is made inside
// the next 1x1 convolution's GEMM, block by block of its B (scaledSource,
// fused by fuseSEScale).

// poolInProducer makes o, a GlobalAveragePool of x, a view of sums its
// producer computes: when x is made by a grouped convolution (and nothing
// else pools it already), that convolution writes the plane averages into
// o's output while it writes x, and o's run does nothing. The output buffer
// becomes the convolution's scratch too, so it is live from there on.
func (o *execOp) poolInProducer(x *value) {
	if x.node == nil {
		return
	}
	prod, ok := x.node.Op().(*execOp)
	if !ok || prod.l.kind != kGConv || prod.pool != nil || prod.out != x {
		return
	}
	prod.pool = o.out.buf
	prod.tmp = append(prod.tmp, o.out.buf)
	o.pooled = true
}

// scaledSource is B = x * s of a 1x1 convolution for gemm.MulSource: x is
// the CNHW input [k, n, hw] and s the per-channel, per-image scale [k, n]
// (a squeeze-and-excite gate), or with one channel [1, n], one scale per
// image (perImage).
type scaledSource struct {
	x, s     []float32
	n, hw    int
	perImage bool
	copy     *buffer // B made whole first instead (setupSEScale), or nil
}

// Rows writes B[r0:r0+kc, j0:j0+nc] into dst (ld nc): row r, column j is
// x[r, j] * s[r, j/hw] (s[0, j/hw] if perImage).
func (src *scaledSource) Rows(dst []float32, r0, kc, j0, nc int) {
	cols := src.n * src.hw
	for i := range kc {
		r := r0 + i
		row := src.x[r*cols : (r+1)*cols]
		out := dst[i*nc : (i+1)*nc]
		sr := r
		if src.perImage {
			sr = 0
		}
		for j := j0; j < j0+nc; {
			b := j / src.hw
			end := min(j0+nc, (b+1)*src.hw)
			gemm.Scale(out[j-j0:end-j0], row[j:end], src.s[sr*src.n+b])
			j = end
		}
	}
}

// setupSEScale plans a 1x1 convolution whose input is scaled per channel
// by l.seScale first (fuseSEScale): the scale is its last input. Made
// inside the GEMM (scaledSource) at batch 1 where there are enough
// columns; otherwise scaled into a scratch copy first, so that the GEMM
// keeps its small-n paths and packs B in one pass: at batch 8 the source
// measured slower on every projection of EfficientNet-B0 (BENCHMARKS.md).
func (o *execOp) setupSEScale(get func(*layer, string) (*value, error)) error {
	l, n := o.l, o.p.n
	s, err := get(l, l.seScale)
	if err != nil {
		return err
	}
	perImage := equalShape(s.shape, []int{n, 1, 1, 1})
	if !o.direct || s.buf == nil || !(perImage || equalShape(s.shape, []int{n, l.cin, 1, 1})) {
		return fmt.Errorf("scale %q of shape %v: want [%d, %d, 1, 1] or [%d, 1, 1, 1] before a 1x1 convolution", l.seScale, s.shape, n, l.cin, n)
	}
	o.ins = append(o.ins, s)
	o.se = &scaledSource{n: n, hw: o.g.h * o.g.w, perImage: perImage}
	if n > 1 || o.g.h*o.g.w < seMinCols {
		o.se.copy = &buffer{size: l.cin * n * o.g.h * o.g.w}
		o.tmp = append(o.tmp, o.se.copy)
	}
	return nil
}

// seInPlaceK is gemm's limit (directK) up to which a plain B is read in
// place rather than packed (fuseSEScale leaves those products alone: the
// separate product measured faster); seMinCols the columns below which a
// plain B takes gemm's small-n paths, where the scaled copy measured
// faster than the source (EfficientNet-B0's 7x7 projections at batch 1).
const (
	seInPlaceK = 64
	seMinCols  = 256
)

// seCopyGrain is the fewest floats of the scaled copy one share of it
// makes: 4096, so that a 7x7 plane's copy (1152 x 49 at batch 1) is cut
// between the threads too, not made on one before the GEMM's fork
// (BenchmarkSEProjection, BENCHMARKS.md issue 16 session 5b).
const seCopyGrain = 1 << 12

// runSEScale runs a convolution planned by setupSEScale.
func (o *execOp) runSEScale(dst, src []float32, cols int, ep gemm.Epilogue) {
	se := o.se
	se.x, se.s = src, o.ins[len(o.ins)-1].buf.data
	if se.copy == nil {
		gemm.MulSource(dst, o.l.packed, se, cols, ep)
		return
	}
	b := se.copy.data
	parallelFor(o.l.cin, max(1, seCopyGrain/cols), func(lo, hi int) {
		se.Rows(b[lo*cols:hi*cols], lo, hi-lo, 0, cols)
	})
	gemm.Mul(dst, o.l.packed, b, cols, ep)
}
