package infer

import (
	"math"

	"github.com/mlserve/mlserve/internal/dwconv"
	"github.com/mlserve/mlserve/internal/gemm"
)

// newGroupConv plans a grouped (or depthwise) convolution of geometry g
// with cpg input channels per group for the GEMM kernel in use (its ISA
// runs the direct kernel too), with the activation's clamp (ReLU, Clip)
// fused; groupConv applies any other activation to each plane after.
func newGroupConv(g geom, cpg int, a activation) *dwconv.Conv {
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	switch a.kind {
	case actRelu:
		lo = 0
	case actClip:
		lo, hi = a.lo, a.hi
	}
	dg := dwconv.Geom{H: g.h, W: g.w, KH: g.kh, KW: g.kw, SH: g.sh, SW: g.sw, PT: g.pt, PL: g.pl, OH: g.oh, OW: g.ow}
	return dwconv.New(dg, cpg, lo, hi, gemm.Kernel())
}

// groupConv is a grouped (or depthwise) convolution computed directly by
// c (newGroupConv): few input channels per output channel make it
// memory-bound, not a GEMM. src is CNHW [cin, n, h, w] with cin =
// cpg*group, w is [cout, cpg, kh, kw] and dst [cout, n, oh, ow]; the
// bias and the activation a are applied while each plane is in cache, and,
// with pool non-nil, the global average of each output plane is written to
// pool ([cout, n], the layout of a GlobalAveragePool's output) from there
// too (a squeeze-and-excite block's pooling, see poolInProducer).
func groupConv(dst, src []float32, c *dwconv.Conv, w, bias []float32, n int, g geom, cpg, cout, group int, a activation, pool []float32) {
	hw, ohw, ksz := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	opg := cout / group
	if opg == 1 && cpg == 1 {
		parallelFor(group*n, 1, func(plo, phi int) {
			s := c.Scratch()
			defer c.Release(s)
			depthwisePlanes(s, c, dst, src, 0, w, bias, n, g, a, pool, plo, phi)
		})
		return
	}
	post := postAct(a)
	parallelFor(group*n, 1, func(plo, phi int) {
		s := c.Scratch()
		defer c.Release(s)
		for p := plo; p < phi; p++ {
			gi, b := p/n, p%n
			out := dst[(gi*opg*n+b)*ohw:]
			c.RunWith(s, out, n*ohw, src[(gi*cpg*n+b)*hw:], n*hw, w[gi*opg*cpg*ksz:(gi+1)*opg*cpg*ksz], bias[gi*opg:(gi+1)*opg])
			if post || pool != nil {
				for j := range opg {
					q := (gi*opg+j)*n + b
					finishPlanes(dst[q*ohw:][:ohw], ohw, a, post, pool, q)
				}
			}
		}
	})
}

// depthwisePlanes computes planes [p0, p1) (plane p: channel p/n, image
// p%n) of a depthwise convolution (one input and one output channel per
// group) on the calling goroutine, in the scratch s of c: input plane p is
// src[(p-ps)*hw:], output plane p dst[p*ohw:]. Small planes are finished
// (activation a past c's clamp, pool) a block at a time, in one call each
// instead of one per plane.
func depthwisePlanes(s dwconv.Scratch, c *dwconv.Conv, dst, src []float32, ps int, w, bias []float32, n int, g geom, a activation, pool []float32, p0, p1 int) {
	hw, ohw, ksz := g.h*g.w, g.oh*g.ow, g.kh*g.kw
	post := postAct(a)
	block := max(1, finishBlock/ohw)
	for q0 := p0; q0 < p1; q0 += block {
		q1 := min(p1, q0+block)
		for p := q0; p < q1; p++ {
			ch := p / n
			c.RunWith(s, dst[p*ohw:], n*ohw, src[(p-ps)*hw:], n*hw, w[ch*ksz:(ch+1)*ksz], bias[ch:ch+1])
		}
		if post || pool != nil {
			finishPlanes(dst[q0*ohw:q1*ohw], ohw, a, post, pool, q0)
		}
	}
}

// postAct reports whether the activation a is applied after the direct
// kernel, which applies only a clamp (ReLU, Clip).
func postAct(a activation) bool {
	return a.kind != actNone && a.kind != actRelu && a.kind != actClip
}

// finishBlock is how many floats of small output planes groupConv
// finishes at once: they stay in L1 from the kernel to their finish.
const finishBlock = 4096

// finishPlanes applies the activation a (if post) to the consecutive
// output planes of ohw floats in out, in place, and, with pool non-nil,
// writes their averages to pool[p:] (p the first plane's index).
func finishPlanes(out []float32, ohw int, a activation, post bool, pool []float32, p int) {
	if post {
		if ga, ok := a.gemmAct(); ok {
			gemm.Activate(out, ga) // in place, without activate's copy
		} else {
			activate(out, out, a)
		}
	}
	if pool != nil {
		for i := range len(out) / ohw {
			pool[p+i] = float32(gemm.Sum64(out[i*ohw:(i+1)*ohw]) / float64(ohw))
		}
	}
}

// gconvAct is the activation a kGConv layer applies: its own, or ReLU.
func (l *layer) gconvAct() activation {
	if l.relu {
		return activation{kind: actRelu}
	}
	return l.act
}
