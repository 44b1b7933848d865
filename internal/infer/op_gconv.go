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
	post := a.kind != actNone && a.kind != actRelu && a.kind != actClip
	ga, vec := a.gemmAct() // in place, without activate's copy
	parallelFor(group*n, 1, func(plo, phi int) {
		s := c.Scratch()
		defer c.Release(s)
		for p := plo; p < phi; p++ {
			gi, b := p/n, p%n
			out := dst[(gi*opg*n+b)*ohw:]
			c.RunWith(s, out, n*ohw, src[(gi*cpg*n+b)*hw:], n*hw, w[gi*opg*cpg*ksz:(gi+1)*opg*cpg*ksz], bias[gi*opg:(gi+1)*opg])
			if !post && pool == nil {
				continue
			}
			for j := range opg {
				plane := out[j*n*ohw : j*n*ohw+ohw]
				switch {
				case post && vec:
					gemm.Activate(plane, ga)
				case post:
					activate(plane, plane, a)
				}
				if pool != nil {
					pool[(gi*opg+j)*n+b] = float32(gemm.Sum64(plane) / float64(ohw))
				}
			}
		}
	})
}

// gconvAct is the activation a kGConv layer applies: its own, or ReLU.
func (l *layer) gconvAct() activation {
	if l.relu {
		return activation{kind: actRelu}
	}
	return l.act
}
