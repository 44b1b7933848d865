package infer

import (
	"fmt"
	"slices"
)

// setup checks the layer's input shapes and plans its output and scratch.
func (o *execOp) setup(net *network, ins []*value, get func(*layer, string) (*value, error)) error {
	l, n := o.l, o.p.n
	for i, in := range ins {
		if in.buf == nil && !(l.kind == kView && i == 1) && !acceptsConstants(l, i) {
			return fmt.Errorf("input %q is a constant; only activations are supported here", l.in[i])
		}
	}
	x := ins[0]
	o.ins = ins[:1]
	switch l.kind {
	case kConv:
		return o.setupConv(x, get)
	case kAffine:
		if len(x.shape) < 2 || x.shape[1] != len(l.scale) {
			return fmt.Errorf("input shape %v does not have %d channels", x.shape, len(l.scale))
		}
		// 4-D activations are CNHW: plane p is channel p/n. Others are
		// row-major [N, C, ...]: plane p is channel p%C.
		o.g.c, o.g.h, o.g.w, o.g.sh = x.shape[1], 1, prod(x.shape[2:]), 1
		if len(x.shape) == 4 {
			o.g.sh = n
		}
		o.newOut(x.shape...)
	case kAdd:
		if !equalShape(ins[0].shape, ins[1].shape) {
			return o.setupBinary(ins, "Add")
		}
		o.ins = ins
		o.newOut(x.shape...)
	case kRelu:
		o.newOut(x.shape...)
	case kMaxPool:
		if err := o.poolGeom(x); err != nil {
			return err
		}
		o.newOut(n, o.g.c, o.g.oh, o.g.ow)
	case kGAP:
		if err := o.need4(x); err != nil {
			return err
		}
		o.newOut(n, o.g.c, 1, 1)
		o.poolInProducer(x)
	case kFC:
		// On the last axis: it is innermost in every layout, so the
		// rows are the other axes in stored order.
		if len(x.shape) < 2 || x.shape[len(x.shape)-1] != l.k {
			return fmt.Errorf("input shape %v: want [%d, %d]", x.shape, n, l.k)
		}
		o.rows = prod(x.shape) / l.k
		o.newOut(append(append([]int(nil), x.shape[:len(x.shape)-1]...), l.m)...)
		o.tmp = []*buffer{{size: l.k * o.rows}, {size: l.m * o.rows}}
		o.flops = 2 * float64(o.rows*l.m*l.k)
	case kSoftmax:
		axis := l.softmax
		if axis < 0 {
			axis += len(x.shape)
		}
		if axis != len(x.shape)-1 {
			return fmt.Errorf("softmax over axis %d of %v: only the last axis is supported", l.softmax, x.shape)
		}
		o.newOut(x.shape...)
	case kView:
		shape, err := viewShape(l, x.shape, ins)
		if err != nil {
			return err
		}
		switch {
		case n == 1 || (len(x.shape) != 4 && len(shape) != 4):
			o.out = &value{shape: shape, buf: x.buf}
		case len(shape) == 4:
			o.setupRelayout(x, shape) // to a CNHW activation (op_layout.go)
		default:
			o.g.c, o.g.h, o.g.w = x.shape[1], x.shape[2], x.shape[3]
			o.nchw = true
			o.newOut(shape...)
		}
	default:
		return o.setupExtra(ins)
	}
	return nil
}

// setupConv plans a convolution: its output, the way B of the GEMM is
// made (direct, subsampled, Winograd or im2col on demand) and the residual.
func (o *execOp) setupConv(x *value, get func(*layer, string) (*value, error)) error {
	l, n := o.l, o.p.n
	if err := o.need4(x); err != nil {
		return err
	}
	if o.g.c != l.cin {
		return fmt.Errorf("input has %d channels, weights want %d", o.g.c, l.cin)
	}
	pt, pl, pb, pr, err := o.convGeom(x.shape)
	if err != nil {
		return err
	}
	o.newOut(n, l.cout, o.g.oh, o.g.ow)
	o.direct = l.kh == 1 && l.kw == 1 && l.sh == 1 && l.sw == 1 && pt+pl+pb+pr == 0
	if l.kh == 1 && l.kw == 1 && pt+pl+pb+pr == 0 && !o.direct {
		// A strided 1x1: B is the input subsampled, made whole.
		o.sub = &buffer{size: l.cin * n * o.g.oh * o.g.ow}
		o.tmp = append(o.tmp, o.sub)
	} else if l.wino != nil {
		o.wino = newWinoConv(o.g, n, l.cout, l.wino)
		o.wino.bias, o.wino.relu = l.bias, l.relu
		v, m := o.wino.bufSizes()
		o.wv, o.wm = &buffer{size: v}, &buffer{size: m}
		o.tmp = append(o.tmp, o.wv, o.wm)
	} else if !o.direct {
		o.src = &im2colSource{g: o.g, n: n}
	}
	if l.residual != "" {
		r, err := get(l, l.residual)
		if err != nil {
			return err
		}
		if r.buf == nil || !equalShape(r.shape, o.out.shape) {
			return fmt.Errorf("residual %q of shape %v does not match the output %v", l.residual, r.shape, o.out.shape)
		}
		o.ins = append(o.ins, r)
	}
	o.flops = 2 * float64(n*l.cout*o.g.oh*o.g.ow) * float64(l.cin*l.kh*l.kw)
	if l.seScale != "" {
		return o.setupSEScale(get)
	}
	return nil
}

// newOut plans the op's output: a new buffer of that shape.
func (o *execOp) newOut(shape ...int) {
	o.out = &value{shape: shape, buf: &buffer{size: prod(shape)}}
}

// need4 checks that x is an image batch [N,C,H,W] and sets its geometry.
func (o *execOp) need4(x *value) error {
	if len(x.shape) != 4 {
		return fmt.Errorf("input shape %v: want [N,C,H,W]", x.shape)
	}
	o.g.c, o.g.h, o.g.w = x.shape[1], x.shape[2], x.shape[3]
	return nil
}

// poolGeom sets the window geometry of a pooling layer on x ([N,C,H,W]).
func (o *execOp) poolGeom(x *value) error {
	l := o.l
	if err := o.need4(x); err != nil {
		return err
	}
	o.g.kh, o.g.kw, o.g.sh, o.g.sw = l.kh, l.kw, l.sh, l.sw
	o.g.pt, o.g.pl = l.pads[0], l.pads[1]
	o.g.oh = poolOut(o.g.h, l.kh, l.sh, l.pads[0], l.pads[2], l.ceil)
	o.g.ow = poolOut(o.g.w, l.kw, l.sw, l.pads[1], l.pads[3], l.ceil)
	if o.g.oh < 1 || o.g.ow < 1 {
		return fmt.Errorf("input %v is smaller than the pooling window", x.shape)
	}
	return nil
}

// convGeom sets the window geometry of a convolution on an input of shape
// x ([N,C,H,W]) and returns the padding, auto_pad resolved.
func (o *execOp) convGeom(x []int) (pt, pl, pb, pr int, err error) {
	l := o.l
	o.g.kh, o.g.kw, o.g.sh, o.g.sw = l.kh, l.kw, l.sh, l.sw
	pt, pl, pb, pr = l.pads[0], l.pads[1], l.pads[2], l.pads[3]
	switch l.autoPad {
	case "VALID":
		pt, pl, pb, pr = 0, 0, 0, 0
	case "SAME_UPPER", "SAME_LOWER":
		th := max((ceilDiv(o.g.h, l.sh)-1)*l.sh+l.kh-o.g.h, 0)
		tw := max((ceilDiv(o.g.w, l.sw)-1)*l.sw+l.kw-o.g.w, 0)
		pt, pl = th/2, tw/2
		if l.autoPad == "SAME_LOWER" {
			pt, pl = th-th/2, tw-tw/2
		}
		pb, pr = th-pt, tw-pl
	}
	o.g.pt, o.g.pl = pt, pl
	o.g.oh = (o.g.h+pt+pb-l.kh)/l.sh + 1
	o.g.ow = (o.g.w+pl+pr-l.kw)/l.sw + 1
	if o.g.oh < 1 || o.g.ow < 1 {
		return 0, 0, 0, 0, fmt.Errorf("input %v is smaller than the kernel", x)
	}
	return pt, pl, pb, pr, nil
}

func poolOut(in, k, s, p0, p1 int, ceil bool) int {
	span := in + p0 + p1 - k
	if span < 0 {
		return 0
	}
	out := span/s + 1
	if ceil {
		out = ceilDiv(span, s) + 1
		// The last window must start inside the input or its top padding.
		if (out-1)*s >= in+p0 {
			out--
		}
	}
	return out
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func equalShape(a, b []int) bool { return slices.Equal(a, b) }
