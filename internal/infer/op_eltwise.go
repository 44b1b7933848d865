package infer

import (
	"fmt"
	"math"

	"github.com/mlserve/mlserve/internal/gemm"
	"github.com/mlserve/mlserve/internal/onnx"
)

// actKind is an element-wise activation.
type actKind uint8

const (
	actNone        actKind = iota
	actRelu                // max(x, 0)
	actClip                // min(max(x, lo), hi); ReLU6 is Clip(0, 6)
	actSigmoid             // 1 / (1 + e^-x)
	actHardSigmoid         // max(0, min(1, alpha*x + beta))
	actHardSwish           // x * max(0, min(1, x/6 + 1/2))
	actSiLU                // x * sigmoid(x): Sigmoid and Mul fused
	actErf                 // erf(x)
	actSqrt                // sqrt(x)
)

// activation is an actKind with its parameters.
type activation struct {
	kind        actKind
	lo, hi      float32 // actClip
	alpha, beta float32 // actHardSigmoid
}

// gemmAct is a as the GEMM epilogue's activation, if it has it.
func (a activation) gemmAct() (gemm.Act, bool) {
	switch a.kind {
	case actRelu:
		return gemm.Act{Kind: gemm.ActClamp, Lo: 0, Hi: float32(math.Inf(1))}, true
	case actClip:
		return gemm.Act{Kind: gemm.ActClamp, Lo: a.lo, Hi: a.hi}, true
	case actSigmoid:
		return gemm.Act{Kind: gemm.ActSigmoid}, true
	case actSiLU:
		return gemm.Act{Kind: gemm.ActSiLU}, true
	case actHardSwish:
		return gemm.Act{Kind: gemm.ActHardSwish}, true
	}
	return gemm.Act{}, false
}

// applyActivation writes dst = a(src); dst may be src.
func applyActivation(dst, src []float32, a activation) {
	parallelFor(len(dst), 1<<13, func(lo, hi int) { activate(dst[lo:hi], src[lo:hi], a) })
}

// activate applies a to one run of values, on the calling goroutine.
func activate(dst, src []float32, a activation) {
	src = src[:len(dst)]
	if ga, ok := a.gemmAct(); ok { // the vector kernels
		copy(dst, src)
		gemm.Activate(dst, ga)
		return
	}
	switch a.kind {
	case actNone:
		copy(dst, src)
	case actHardSigmoid:
		for i, v := range src {
			dst[i] = max(0, min(1, a.alpha*v+a.beta))
		}
	case actErf:
		for i, v := range src {
			dst[i] = float32(math.Erf(float64(v)))
		}
	case actSqrt:
		for i, v := range src {
			dst[i] = float32(math.Sqrt(float64(v)))
		}
	}
}

// broadcast is an element-wise binary operation planned on the physical
// layout of its operands (4-D activations are stored CNHW, so 4-D shapes are
// permuted to [C,N,H,W]), with adjacent axes merged where both operands
// step through them alike: the squeeze-and-excite product [C,N,1,1] x
// [C,N,H,W] becomes rows of H*W values times one scalar each.
type broadcast struct {
	arith   string
	dims    []int        // merged output dims
	strides [2][]int     // per operand, 0 on broadcast axes
	consts  [2][]float32 // constant operand data in physical order, or nil
	slot    [2]int       // index into the op's activation inputs otherwise
}

// broadcastShape is numpy's broadcast of a and b.
func broadcastShape(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := range out {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// setupBinary plans ins[0] <arith> ins[1] with broadcasting.
func (o *execOp) setupBinary(ins []*value, arith string) error {
	if len(ins) != 2 {
		return fmt.Errorf("%s has %d inputs, want 2", arith, len(ins))
	}
	out, err := broadcastShape(ins[0].shape, ins[1].shape)
	if err != nil {
		return err
	}
	r := len(out)
	phys := func(s []int) []int {
		s = append([]int(nil), s...)
		if r == 4 {
			s[0], s[1] = s[1], s[0]
		}
		return s
	}
	b := &broadcast{arith: arith}
	o.ins = nil
	pout := phys(out)
	for k, in := range ins {
		aligned := append(make([]int, 0, r), make([]int, r-len(in.shape))...)
		for i := range aligned {
			aligned[i] = 1
		}
		aligned = append(aligned, in.shape...)
		if in.buf != nil {
			if r == 4 && len(in.shape) != 4 {
				return fmt.Errorf("broadcasting the %d-D activation %q into a 4-D result is not supported", len(in.shape), o.l.in[k])
			}
			b.slot[k] = len(o.ins)
			o.ins = append(o.ins, in)
		} else {
			if in.c.f == nil {
				return fmt.Errorf("operand %q is not a float tensor", o.l.in[k])
			}
			b.consts[k] = in.c.f
			if r == 4 && aligned[0] > 1 && aligned[1] > 1 {
				b.consts[k] = swapOuter(in.c.f, aligned[0], aligned[1], prod(aligned[2:]))
			}
		}
		ps := phys(aligned)
		st := make([]int, r)
		step := 1
		for i := r - 1; i >= 0; i-- {
			if ps[i] != 1 {
				st[i] = step
			}
			step *= ps[i]
		}
		b.strides[k] = st
	}
	if len(o.ins) == 0 {
		return fmt.Errorf("%s of two constants is not supported", arith)
	}
	b.dims, b.strides = mergeAxes(pout, b.strides)
	o.bin = b
	o.out = &value{shape: out, buf: &buffer{size: prod(out)}}
	return nil
}

// swapOuter transposes the first two axes of data [a, b, inner].
func swapOuter(data []float32, a, b, inner int) []float32 {
	out := make([]float32, len(data))
	for i := range a {
		for j := range b {
			copy(out[(j*a+i)*inner:(j*a+i+1)*inner], data[(i*b+j)*inner:(i*b+j+1)*inner])
		}
	}
	return out
}

// mergeAxes drops size-1 axes and merges neighbours both operands step
// through contiguously (or both broadcast).
func mergeAxes(dims []int, st [2][]int) ([]int, [2][]int) {
	var d []int
	var s [2][]int
	for i, n := range dims {
		if n == 1 {
			continue
		}
		if last := len(d) - 1; last >= 0 && s[0][last] == st[0][i]*n && s[1][last] == st[1][i]*n {
			d[last] *= n
			s[0][last], s[1][last] = st[0][i], st[1][i]
			continue
		}
		d = append(d, n)
		s[0] = append(s[0], st[0][i])
		s[1] = append(s[1], st[1][i])
	}
	if len(d) == 0 {
		d, s = []int{1}, [2][]int{{0}, {0}}
	}
	return d, s
}

// run computes dst from the operands, row of the innermost axis by row.
func (b *broadcast) run(dst []float32, ins []*value) {
	var op [2][]float32
	for k := range op {
		if op[k] = b.consts[k]; op[k] == nil {
			op[k] = ins[b.slot[k]].buf.data
		}
	}
	last := len(b.dims) - 1
	inner := b.dims[last]
	rows := len(dst) / inner
	sa, sb := b.strides[0][last], b.strides[1][last]
	parallelFor(rows, max(1, 4096/inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			oa, ob, rem := 0, 0, r
			for i := last - 1; i >= 0; i-- {
				q := rem % b.dims[i]
				rem /= b.dims[i]
				oa += q * b.strides[0][i]
				ob += q * b.strides[1][i]
			}
			arithRow(b.arith, dst[r*inner:(r+1)*inner], op[0][oa:], op[1][ob:], sa, sb)
		}
	})
}

// arithRow writes dst[i] = a[i*sa] <arith> b[i*sb].
func arithRow(arith string, dst, a, b []float32, sa, sb int) {
	switch arith {
	case "Add":
		for i := range dst {
			dst[i] = a[i*sa] + b[i*sb]
		}
	case "Sub":
		for i := range dst {
			dst[i] = a[i*sa] - b[i*sb]
		}
	case "Mul":
		if sa == 0 && sb == 1 { // squeeze-and-excite: a plane times its scale
			gemm.Scale(dst, b, a[0])
			return
		}
		if sb == 0 && sa == 1 {
			gemm.Scale(dst, a, b[0])
			return
		}
		for i := range dst {
			dst[i] = a[i*sa] * b[i*sb]
		}
	case "Div":
		for i := range dst {
			dst[i] = a[i*sa] / b[i*sb]
		}
	case "Pow":
		for i := range dst {
			dst[i] = float32(math.Pow(float64(a[i*sa]), float64(b[i*sb])))
		}
	}
}

// lowerLayerNorm reads a LayerNormalization over the last axis: the only
// axis that is innermost in every layout, and the one ConvNeXt and ViT use.
func lowerLayerNorm(net *network, o *onnx.LayerNormalization, l *layer) error {
	n := &o.Node
	if err := wantInputs(n, 2, 3); err != nil {
		return err
	}
	if len(n.Outputs) > 1 {
		return fmt.Errorf("the Mean and InvStdDev outputs are not supported")
	}
	scale, err := net.constInput(n, 1, "scale")
	if err != nil {
		return err
	}
	if len(scale.shape) != 1 {
		return fmt.Errorf("scale of shape %v: only the last axis is supported", scale.shape)
	}
	l.kind, l.in = kLayerNorm, n.Inputs[:1]
	l.axis = int(o.Axis)
	l.scale = append([]float32(nil), scale.f...)
	l.shift = make([]float32, len(l.scale))
	if hasInput(n, 2) {
		b, err := net.constInput(n, 2, "bias")
		if err != nil {
			return err
		}
		if b.size() != len(l.scale) {
			return fmt.Errorf("bias has %d values for %d", b.size(), len(l.scale))
		}
		copy(l.shift, b.f)
	}
	l.padValue = o.Epsilon
	return nil
}

// layerNorm normalizes every row of len(scale) values of src to mean 0 and
// variance 1 (plus eps), then scales and shifts it.
func layerNorm(dst, src, scale, shift []float32, eps float32) {
	c := len(scale)
	parallelFor(len(src)/c, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, out := src[r*c:(r+1)*c], dst[r*c:(r+1)*c]
			var mean, v float64
			for _, x := range in {
				mean += float64(x)
			}
			mean /= float64(c)
			for _, x := range in {
				d := float64(x) - mean
				v += d * d
			}
			inv := 1 / math.Sqrt(v/float64(c)+float64(eps))
			for i, x := range in {
				out[i] = float32((float64(x)-mean)*inv)*scale[i] + shift[i]
			}
		}
	})
}
