package infer

import (
	"math"

	"github.com/mlserve/mlserve/internal/gemm"
)

// parallelFor splits [0, n) into up to GOMAXPROCS contiguous ranges of at
// least grain items and runs fn on each concurrently, on the GEMM's worker
// pool (see gemm.Parallel).
func parallelFor(n, grain int, fn func(lo, hi int)) { gemm.Parallel(n, grain, fn) }

// geom is the geometry of a 2-D window operation (convolution or pooling).
type geom struct {
	c, h, w int // input channels and size
	kh, kw  int
	sh, sw  int
	pt, pl  int // top and left padding
	oh, ow  int // output size
}

// im2colSource makes the GEMM's B for a convolution on demand: row
// (ci*kh+ky)*kw+kx, column (b*oh+oy)*ow+ox holds the input pixel that kernel
// tap meets at that output position (zero in the padding). The input is
// CNHW, [cin, n, h, w]. Rows only reads, so Mul's workers share it.
//
// A tap's whole output rows move in one strided copy (wholeRows), with a
// horizontal stride of 2 gathering every second input column straight
// from the input (gemm.CopyRowsEvens): no deinterleaved copy of the input
// first (BenchmarkConv, ResNet's stride-2 3x3 layers: 4-12% faster).
type im2colSource struct {
	in []float32
	g  geom
	n  int
}

func (s *im2colSource) Rows(dst []float32, r0, kc, j0, nc int) {
	g := s.g
	ohw := g.oh * g.ow
	b0, rem := j0/ohw, j0%ohw
	oy0, ox0 := rem/g.ow, rem%g.ow
	for p := range kc {
		r := r0 + p
		kx := r % g.kw
		ky := (r / g.kw) % g.kh
		ci := r / (g.kw * g.kh)
		out := dst[p*nc : (p+1)*nc]
		b, oy, ox := b0, oy0, ox0
		for o := 0; o < nc; {
			if rows := min((nc-o)/g.ow, g.oh-oy); ox == 0 && rows > 0 && g.sw <= 2 {
				s.wholeRows(out[o:o+rows*g.ow], ci*s.n+b, oy, ky, kx)
				o += rows * g.ow
				if oy += rows; oy == g.oh {
					oy = 0
					b++
				}
				continue
			}
			seg := min(g.ow-ox, nc-o)
			row := out[o : o+seg]
			iy := oy*g.sh - g.pt + ky
			ix := ox*g.sw - g.pl + kx
			plane := ci*s.n + b
			o += seg
			if ox += seg; ox == g.ow {
				ox = 0
				if oy++; oy == g.oh {
					oy = 0
					b++
				}
			}
			if iy < 0 || iy >= g.h {
				clear(row)
				continue
			}
			start := (plane*g.h + iy) * g.w
			in := s.in[start : start+g.w]
			switch g.sw {
			case 1:
				copySegment(row, in, ix)
			case 2:
				if len(row) >= 16 { // else the loop below costs less than the calls
					evensSegment(row, in, ix)
					break
				}
				fallthrough
			default:
				for t := range row {
					if ix >= 0 && ix < g.w {
						row[t] = in[ix]
					} else {
						row[t] = 0
					}
					ix += g.sw
				}
			}
		}
	}
}

// wholeRows writes the whole output rows oy0, oy0+1, ... (len(out)/ow of
// them) of tap (ky, kx) of input plane: the rows that meet the input with
// one strided copy (gemm.CopyRows), the padding's rows and columns zero.
// It serves horizontal strides 1 and 2.
func (s *im2colSource) wholeRows(out []float32, plane, oy0, ky, kx int) {
	g := s.g
	rows := len(out) / g.ow
	// Output rows [ya, yb) of the run read input rows inside [0, h).
	ya, yb := 0, rows
	for ya < rows && (oy0+ya)*g.sh-g.pt+ky < 0 {
		ya++
	}
	for yb > ya && (oy0+yb-1)*g.sh-g.pt+ky >= g.h {
		yb--
	}
	clear(out[:ya*g.ow])
	clear(out[yb*g.ow:])
	if ya == yb {
		return
	}
	// Column ox reads input column ix0+sw*ox of the row; output columns
	// [lo, hi) read inside it (ceilDiv truncates for a negative a, which
	// the clamps make no matter).
	ix0, sw := kx-g.pl, g.sw
	lo := min(max(ceilDiv(-ix0, sw), 0), g.ow)
	hi := max(min(g.ow, ceilDiv(g.w-ix0, sw)), lo)
	if lo < hi {
		start := (plane*g.h+(oy0+ya)*g.sh-g.pt+ky)*g.w + ix0 + sw*lo
		if sw == 2 {
			gemm.CopyRowsEvens(out[ya*g.ow+lo:], s.in[start:], yb-ya, hi-lo, g.ow, g.sh*g.w)
		} else {
			gemm.CopyRows(out[ya*g.ow+lo:], s.in[start:], yb-ya, hi-lo, g.ow, g.sh*g.w)
		}
	}
	if lo == 0 && hi == g.ow {
		return
	}
	for y := ya; y < yb; y++ {
		row := out[y*g.ow : (y+1)*g.ow]
		for t := range lo {
			row[t] = 0
		}
		for t := hi; t < len(row); t++ {
			row[t] = 0
		}
	}
}

// copySegment sets row[t] = in[ix+t], zero where ix+t is outside in. Short
// segments (the 7- and 14-wide output rows of ResNet's last stages) move
// element by element: three memmove and memclr calls per segment cost more
// than the copy.
func copySegment(row, in []float32, ix int) {
	seg, w := len(row), len(in)
	lo := min(max(-ix, 0), seg)   // columns left of the input
	hi := max(min(seg, w-ix), lo) // columns inside it end here
	if lo == hi {
		// All in the padding; ix may lie past the input (a right padding
		// of 2 or more), where slicing in would panic at its last row.
		clear(row)
		return
	}
	if seg > 16 {
		clear(row[:lo])
		copy(row[lo:hi], in[ix+lo:ix+hi])
		clear(row[hi:])
		return
	}
	for t := range lo {
		row[t] = 0
	}
	src, dst := in[ix+lo:ix+hi], row[lo:hi]
	for t := range dst {
		dst[t] = src[t]
	}
	for t := hi; t < seg; t++ {
		row[t] = 0
	}
}

// evensSegment sets row[t] = in[ix+2t], zero where ix+2t is outside in:
// a partial output row of a stride-2 im2col (where a block of B starts or
// ends inside an output row) in one gather (gemm.Evens) instead of an
// element loop with a bounds test per element. BenchmarkIm2col, at batch
// 1: 0.56-0.89x on the stem (112-wide rows), but 1.12-1.37x on 14-wide
// rows, so Rows uses it from 16 floats.
func evensSegment(row, in []float32, ix int) {
	seg, w := len(row), len(in)
	// Columns [lo, hi) read inside in (ceilDiv truncates for a negative
	// a, which the clamps make no matter).
	lo := min(max(ceilDiv(-ix, 2), 0), seg)
	hi := max(min(seg, ceilDiv(w-ix, 2)), lo)
	clear(row[:lo])
	clear(row[hi:])
	if lo < hi {
		gemm.Evens(row[lo:hi], in[ix+2*lo:])
	}
}

// subsample writes the pixels a strided 1x1 convolution reads, planes
// [planes, h, w] to [planes, oh, ow]: (oy*sh, ox*sw), with no padding.
func subsample(dst, src []float32, planes int, g geom) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	parallelFor(planes, 8, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			in, out := src[p*hw:(p+1)*hw], dst[p*ohw:(p+1)*ohw]
			for oy := range g.oh {
				row, orow := in[oy*g.sh*g.w:], out[oy*g.ow:(oy+1)*g.ow]
				if g.sw == 2 {
					gemm.Evens(orow, row)
					continue
				}
				for ox := range orow {
					orow[ox] = row[ox*g.sw]
				}
			}
		}
	})
}

// toNCHW reorders [c, n, hw] into [n, c, hw].
func toNCHW(dst, src []float32, n, c, hw int) {
	for ci := range c {
		for b := range n {
			copy(dst[(b*c+ci)*hw:(b*c+ci+1)*hw], src[(ci*n+b)*hw:(ci*n+b+1)*hw])
		}
	}
}

// maxPool pools planes [planes, h, w] into dst [planes, oh, ow]; padding
// never wins the max. Each output row takes the column-wise max of its
// window's input rows first, into a row padded with -Inf, then the max of
// each run of kw columns of it, all with gemm.MaxInto's vector kernel;
// output column ox is then run ox*sw. ResNet's 3x3 stride-2 pool takes
// the runs at even columns only: the max of col[2ox], col[2ox+1] and
// col[2ox+2], from two stride-2 gathers (gemm.Evens) of the row, in the
// same order as the general path, so NaNs come out the same.
func maxPool(dst, src []float32, planes int, g geom) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	span := max((g.ow-1)*g.sw+g.kw, g.pl+g.w) // padded row length
	runs := span - g.kw + 1
	inf := float32(math.Inf(-1))
	evens := g.kw == 3 && g.sw == 2
	parallelFor(planes, 1, func(lo, hi int) {
		col := make([]float32, span)
		win := make([]float32, max(runs, g.ow+1))
		odd := make([]float32, g.ow)
		for i := range col {
			col[i] = inf
		}
		inner := col[g.pl : g.pl+g.w]
		for p := lo; p < hi; p++ {
			in, out := src[p*hw:(p+1)*hw], dst[p*ohw:(p+1)*ohw]
			for oy := range g.oh {
				y0 := oy*g.sh - g.pt
				y1 := min(y0+g.kh, g.h)
				y0 = max(y0, 0)
				orow := out[oy*g.ow : (oy+1)*g.ow]
				if y0 >= y1 { // a window all in padding (pads >= kernel)
					for i := range orow {
						orow[i] = inf
					}
					continue
				}
				copy(inner, in[y0*g.w:(y0+1)*g.w])
				for y := y0 + 1; y < y1; y++ {
					gemm.MaxInto(inner, in[y*g.w:(y+1)*g.w])
				}
				if evens {
					e := win[:g.ow+1]
					gemm.Evens(e, col)
					gemm.Evens(odd, col[1:])
					copy(orow, e)
					gemm.MaxInto(orow, odd)
					gemm.MaxInto(orow, e[1:])
					continue
				}
				copy(win, col[:runs])
				for kx := 1; kx < g.kw; kx++ {
					gemm.MaxInto(win[:runs], col[kx:kx+runs])
				}
				for ox := range orow {
					orow[ox] = win[ox*g.sw]
				}
			}
		}
	})
}

// globalAvgPool averages each plane of src [planes, hw] into dst [planes].
func globalAvgPool(dst, src []float32, planes, hw int) {
	parallelFor(planes, 64, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			dst[p] = float32(gemm.Sum64(src[p*hw:(p+1)*hw]) / float64(hw))
		}
	})
}

// affine applies dst = src*scale[ch] + shift[ch] (then ReLU) to planes of
// hw values; plane p belongs to channel (p/div)%c (div is the batch size for
// CNHW activations, 1 for row-major ones).
func affine(dst, src []float32, c, hw, div int, scale, shift []float32, relu bool) {
	planes := len(src) / hw
	parallelFor(planes, 4, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			ch := (p / div) % c
			s, t := scale[ch], shift[ch]
			in, out := src[p*hw:(p+1)*hw], dst[p*hw:(p+1)*hw]
			for i, v := range in {
				v = v*s + t
				if relu && v < 0 {
					v = 0
				}
				out[i] = v
			}
		}
	})
}

// addRelu writes dst = a + b (then ReLU).
func addRelu(dst, a, b []float32, relu bool) {
	parallelFor(len(dst), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := a[i] + b[i]
			if relu && v < 0 {
				v = 0
			}
			dst[i] = v
		}
	})
}

// reluInto writes dst = max(src, 0).
func reluInto(dst, src []float32) {
	parallelFor(len(dst), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = max(src[i], 0)
		}
	})
}

// softmax writes the softmax of row into probs (same length), in float64.
func softmax(probs []float64, row []float32) {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	var sum float64
	for i, v := range row {
		probs[i] = math.Exp(float64(v) - m)
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
}

// softmaxRows applies softmax to each row of src [rows, cols].
func softmaxRows(dst, src []float32, cols int) {
	probs := make([]float64, cols)
	for r := 0; r+cols <= len(src); r += cols {
		softmax(probs, src[r:r+cols])
		for i, p := range probs {
			dst[r+i] = float32(p)
		}
	}
}
