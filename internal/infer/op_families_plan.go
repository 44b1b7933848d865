package infer

import (
	"errors"
	"fmt"
)

// Planning and running the operators of op_families.go.

// acceptsConstants reports whether input i of l may be a constant.
func acceptsConstants(l *layer, i int) bool {
	return l.kind == kBinary || l.kind == kShapeOp || (i > 0 && (l.kind == kSlice || l.kind == kReduceMean))
}

// readsConstants reports whether l may read constants when planning.
func readsConstants(l *layer) bool {
	switch l.kind {
	case kAdd, kBinary, kSlice, kReduceMean:
		return true
	}
	return false
}

// foldable reports whether l is arithmetic on constants only (shape
// arithmetic), computed when planning.
func foldable(l *layer, ins []*value) bool {
	if l.kind == kView {
		return ins[0].c != nil
	}
	if l.kind != kBinary && l.kind != kAdd {
		return false
	}
	for _, in := range ins {
		if in.c == nil {
			return false
		}
	}
	return true
}

// foldArith computes arithmetic on constants: integer arithmetic (Div
// truncates) when both are integers.
func foldArith(l *layer, ins []*value) (*constant, error) {
	if c, ok, err := foldConst(l, ins); ok {
		return c, err
	}
	arith := l.arith
	if l.kind == kAdd {
		arith = "Add"
	}
	if arith == "" || len(ins) != 2 {
		return nil, fmt.Errorf("unsupported shape operator %s", l.typ)
	}
	a, b := ins[0].c, ins[1].c
	n := max(a.size(), b.size())
	if (a.size() != n && a.size() != 1) || (b.size() != n && b.size() != 1) {
		return nil, fmt.Errorf("%s of constants of shapes %v and %v is not supported", arith, a.shape, b.shape)
	}
	shape := a.shape
	if b.size() > a.size() || len(b.shape) > len(a.shape) {
		shape = b.shape
	}
	at := func(c *constant, i int) int {
		if c.size() == 1 {
			return 0
		}
		return i
	}
	c := &constant{shape: append([]int(nil), shape...)}
	if a.i != nil && b.i != nil {
		c.i = make([]int64, n)
		for i := range c.i {
			x, y := a.i[at(a, i)], b.i[at(b, i)]
			switch arith {
			case "Add":
				c.i[i] = x + y
			case "Sub":
				c.i[i] = x - y
			case "Mul":
				c.i[i] = x * y
			case "Div":
				if y == 0 {
					return nil, errors.New("integer division by zero")
				}
				c.i[i] = x / y
			default:
				return nil, fmt.Errorf("integer %s is not supported", arith)
			}
		}
		return c, nil
	}
	fa, fb := a.floats(), b.floats()
	c.f = make([]float32, n)
	arithRow(arith, c.f, fa[at(a, 0):], fb[at(b, 0):], min(1, at(a, 1)), min(1, at(b, 1)))
	return c, nil
}

// concatOfActivations reports whether a Concat joins activations, or a
// Gather indexes one (run as an op) rather than shapes (computed when
// planning).
func concatOfActivations(l *layer, ins []*value) bool {
	switch l.typ {
	case "Gather":
		return ins[0].buf != nil
	case "Concat":
		for _, in := range ins {
			if in.buf != nil {
				return true
			}
		}
	}
	return false
}

// setupExtra plans the layers of this file.
func (o *execOp) setupExtra(ins []*value) error {
	l, n, x := o.l, o.p.n, ins[0]
	switch l.kind {
	case kGConv:
		if l.expand != nil {
			return o.setupMB(x)
		}
		if err := o.need4(x); err != nil {
			return err
		}
		if o.g.c != l.cin*l.group {
			return fmt.Errorf("input has %d channels, weights want %d groups of %d", o.g.c, l.group, l.cin)
		}
		if _, _, _, _, err := o.convGeom(x.shape); err != nil {
			return err
		}
		o.newOut(n, l.cout, o.g.oh, o.g.ow)
		o.flops = 2 * float64(n*l.cout*o.g.oh*o.g.ow) * float64(l.cin*l.kh*l.kw)
		o.dw = newGroupConv(o.g, l.cin, l.gconvAct())
	case kUnary:
		o.newOut(x.shape...)
	case kBinary:
		return o.setupBinary(ins, l.arith)
	case kShapeOp: // Concat or Gather of activations
		if l.typ == "Gather" {
			return o.setupGather(ins)
		}
		return o.setupConcat(ins)
	case kMatMul:
		return o.setupMatMul(ins)
	case kAvgPool:
		if err := o.poolGeom(x); err != nil {
			return err
		}
		o.newOut(n, o.g.c, o.g.oh, o.g.ow)
	case kTranspose, kSlice, kReduceMean:
		return o.setupLayout(ins)
	case kLayerNorm:
		if a := l.axis; (a != -1 && a != len(x.shape)-1) || x.shape[len(x.shape)-1] != len(l.scale) {
			return fmt.Errorf("input shape %v, axis %d: only the last axis, of %d values, is supported", x.shape, a, len(l.scale))
		}
		o.newOut(x.shape...)
	case kPad:
		if err := o.need4(x); err != nil {
			return err
		}
		o.g.pt, o.g.pl = l.pads[0], l.pads[1]
		o.g.oh, o.g.ow = o.g.h+l.pads[0]+l.pads[2], o.g.w+l.pads[1]+l.pads[3]
		if o.g.oh == o.g.h && o.g.ow == o.g.w {
			o.out = &value{shape: x.shape, buf: x.buf} // no padding: a view
			return nil
		}
		o.newOut(n, o.g.c, o.g.oh, o.g.ow)
	default:
		return fmt.Errorf("no plan for %s", l.kind)
	}
	return nil
}

// runExtra runs the layers of this file.
func (o *execOp) runExtra(src, dst []float32) {
	l, n := o.l, o.p.n
	switch l.kind {
	case kGConv:
		var pool []float32
		if o.pool != nil {
			pool = o.pool.data
		}
		if l.expand != nil {
			o.runMB(dst, src, pool)
			break
		}
		groupConv(dst, src, o.dw, l.w, l.bias, n, o.g, l.cin, l.cout, l.group, l.gconvAct(), pool)
	case kUnary:
		applyActivation(dst, src, l.act)
	case kBinary:
		o.bin.run(dst, o.ins)
	case kShapeOp:
		if l.typ == "Gather" {
			o.runRelayout(src, dst)
			break
		}
		o.runConcat(dst)
	case kMatMul:
		o.runMatMul(dst)
	case kAvgPool:
		avgPool(dst, src, n*o.g.c, o.g, l.pads[2], l.pads[3], l.includePads)
	case kTranspose, kSlice, kReduceMean:
		o.runRelayout(src, dst)
	case kLayerNorm:
		layerNorm(dst, src, l.scale, l.shift, l.padValue)
	case kPad:
		if &dst[0] != &src[0] {
			padPlanes(dst, src, n*o.g.c, o.g, l.padValue)
		}
	}
}
