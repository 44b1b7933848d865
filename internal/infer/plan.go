package infer

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mlserve/mlserve/internal/gemm"
)

// buffer is a region of the shared arena, live between two steps of the
// execution order.
type buffer struct {
	size        int
	first, last int
	off         int
	data        []float32
}

// value is a tensor while planning: a constant or an activation stored in a
// buffer (views share their source's buffer).
type value struct {
	shape []int
	c     *constant
	buf   *buffer
	node  *gorgonia.Node
}

// plan is the network compiled for one batch size: a gorgonia graph of
// engine ops, its tape machine and the arena layout of every activation.
// Graphs are fixed to one batch size (onnx-go drops the symbolic batch
// dimension), so the Classifier keeps one plan per batch size.
type plan struct {
	n      int
	g      *gorgonia.ExprGraph
	vm     gorgonia.VM
	input  *value
	inT    *tensor.Dense
	output *value
	ops    []*execOp // execution order
	bufs   []*buffer
	arena  int // floats the arena needs
	bound  *float32
	ctx    context.Context
	prof   bool
}

// execOp runs one layer. It is a gorgonia.Op: the tape machine calls Do in
// dependency order, and Do computes straight into the planned arena
// buffers, returning a tensor that views its output buffer.
type execOp struct {
	p       *plan
	l       *layer
	ins     []*value // activation inputs, in order (residual last for kConv)
	out     *value
	tmp     []*buffer // scratch planned in the arena: deint, Winograd, subsampled input, FC transposes
	outT    *tensor.Dense
	g       geom
	direct  bool      // kConv: 1x1 stride-1 unpadded, the input is the GEMM's B
	wino    *winoConv // kConv 3x3 stride 1 as Winograd, with its scratch wv, wm
	wv, wm  *buffer
	sub     *buffer       // kConv 1x1 with a stride: the input subsampled, the GEMM's B
	src     *im2colSource // kConv otherwise: B made on demand from the input
	deint   *buffer       // kConv with stride 2: the input, deinterleaved
	nchw    bool          // kView of a 4-D batch: reorder CNHW to NCHW
	bin     *broadcast    // kBinary, and kAdd of different shapes (op_eltwise.go)
	rows    int           // kFC: rows of the input matrix
	parts   []*value      // Concat: every input in order, constants too
	strided               // Transpose, Slice, ReduceMean, relayouts (op_layout.go)
	flops   float64
	dur     time.Duration
}

var _ gorgonia.Op = (*execOp)(nil)

func (o *execOp) Arity() int { return len(o.ins) }
func (o *execOp) Type() hm.Type {
	ts := make(hm.Types, 0, len(o.ins)+1)
	for _, in := range o.ins {
		ts = append(ts, gorgonia.TensorType{Dims: len(in.shape), Of: tensor.Float32})
	}
	ts = append(ts, gorgonia.TensorType{Dims: len(o.out.shape), Of: tensor.Float32})
	return hm.NewFnType(ts...)
}
func (o *execOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape(append([]int(nil), o.out.shape...)), nil
}
func (o *execOp) ReturnsPtr() bool     { return true }
func (o *execOp) CallsExtern() bool    { return false }
func (o *execOp) OverwritesInput() int { return -1 }
func (o *execOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "mlserve.%s.%s.%d.%p", o.l.kind, o.l.name, o.p.n, o)
}
func (o *execOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}
func (o *execOp) String() string { return o.l.typ + ":" + o.l.name }

func (o *execOp) Do(...gorgonia.Value) (gorgonia.Value, error) {
	if err := o.p.ctx.Err(); err != nil {
		return nil, err
	}
	var start time.Time
	if o.p.prof {
		start = time.Now()
	}
	o.run()
	if o.p.prof {
		o.dur += time.Since(start)
	}
	return o.outT, nil
}

// run executes the layer on the arena buffers.
func (o *execOp) run() {
	l, n := o.l, o.p.n
	src := o.ins[0].buf.data
	dst := o.out.buf.data
	switch l.kind {
	case kConv:
		// Activations are stored CNHW (channel-major, the batch inside),
		// so one GEMM covers the whole batch: C[cout, n*oh*ow] =
		// W[cout, cin*kh*kw] * B[cin*kh*kw, n*oh*ow].
		ep := gemm.Epilogue{Bias: l.bias, ReLU: l.relu}
		if l.residual != "" {
			ep.Residual = o.ins[1].buf.data
		}
		cols := n * o.g.oh * o.g.ow
		if o.wino != nil {
			o.wino.res = ep.Residual
			o.wino.run(dst, src, o.wv.data, o.wm.data)
			break
		}
		if o.sub != nil {
			subsample(o.sub.data, src, l.cin*n, o.g)
			gemm.Mul(dst, l.packed, o.sub.data, cols, ep)
			break
		}
		if o.direct {
			gemm.Mul(dst, l.packed, src, cols, ep)
			break
		}
		o.src.in = src
		if o.deint != nil {
			o.src.deinterleave(o.deint.data)
		}
		// Made block by block inside the GEMM, also for few columns, where
		// Mul splits the rows of A and each worker makes the (small) B
		// again: still faster than making it whole first (BenchmarkConv:
		// 1.1-1.9x on ResNet's stride-2 3x3 layers at batch 1).
		gemm.MulSource(dst, l.packed, o.src, cols, ep)
	case kAffine:
		affine(dst, src, o.g.c, o.g.h*o.g.w, o.g.sh, l.scale, l.shift, l.relu)
	case kAdd:
		if o.bin != nil {
			o.bin.run(dst, o.ins)
			break
		}
		addRelu(dst, src, o.ins[1].buf.data, l.relu)
	case kRelu:
		reluInto(dst, src)
	case kMaxPool:
		maxPool(dst, src, n*o.g.c, o.g)
	case kGAP:
		globalAvgPool(dst, src, n*o.g.c, o.g.h*o.g.w)
	case kFC:
		// out[n, m] = in[n, k] W^T: as C[m, n] = W[m, k] * in^T[k, n].
		bt, ct, rows := o.tmp[0].data, o.tmp[1].data, o.rows
		for b := 0; b < rows; b++ {
			for i := 0; i < l.k; i++ {
				bt[i*rows+b] = src[b*l.k+i]
			}
		}
		gemm.Mul(ct, l.packed, bt, rows, gemm.Epilogue{Bias: l.bias, ReLU: l.relu})
		for b := 0; b < rows; b++ {
			for j := 0; j < l.m; j++ {
				dst[b*l.m+j] = ct[j*rows+b]
			}
		}
	case kSoftmax:
		softmaxRows(dst, src, o.out.shape[len(o.out.shape)-1])
	case kView:
		if o.nchw {
			toNCHW(dst, src, n, o.g.c, o.g.h*o.g.w)
		} else if o.relayout {
			o.runRelayout(src, dst)
		}
		// Otherwise the same buffer with a new shape: nothing to compute.
	default:
		o.runExtra(src, dst)
	}
}

// newPlan compiles net for batch size n.
func newPlan(net *network, n int, prof bool) (*plan, error) {
	p := &plan{n: n, g: gorgonia.NewGraph(), prof: prof, ctx: context.Background()}
	vals := map[string]*value{}
	get := func(l *layer, name string) (*value, error) {
		if v, ok := vals[name]; ok {
			return v, nil
		}
		if c, ok := net.consts[name]; ok {
			v := &value{shape: c.shape, c: c}
			vals[name] = v
			return v, nil
		}
		return nil, &LoadError{Node: l.name, Op: l.typ, Err: fmt.Errorf("input %q is not computed before it is used", name)}
	}
	inShape := append([]int{n}, net.inputShape...)
	p.input = &value{shape: inShape, buf: &buffer{size: prod(inShape)}}
	p.input.node = gorgonia.NewTensor(p.g, tensor.Float32, 4, gorgonia.WithShape(inShape...), gorgonia.WithName("input"))
	vals[net.input] = p.input

	for _, l := range net.layers {
		var ins []*value
		for _, name := range l.in {
			v, err := get(l, name)
			if err != nil {
				return nil, err
			}
			ins = append(ins, v)
		}
		if (l.kind == kShapeOp && !concatOfActivations(l, ins)) || foldable(l, ins) {
			c, err := shapeOp(l, ins)
			if err != nil {
				return nil, &LoadError{Node: l.name, Op: l.typ, Err: err}
			}
			vals[l.out] = &value{shape: c.shape, c: c}
			continue
		}
		o := &execOp{p: p, l: l}
		if err := o.setup(net, ins, get); err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				return nil, err
			}
			return nil, &LoadError{Node: l.name, Op: l.typ, Err: err}
		}
		nodes := make([]*gorgonia.Node, len(o.ins))
		for i, in := range o.ins {
			nodes[i] = in.node
		}
		node, err := gorgonia.ApplyOp(o, nodes...)
		if err != nil {
			return nil, &LoadError{Node: l.name, Op: l.typ, Err: fmt.Errorf("gorgonia: %w", err)}
		}
		o.out.node = node
		vals[l.out] = o.out
		p.ops = append(p.ops, o)
	}
	out, ok := vals[net.output]
	if !ok || out.buf == nil {
		return nil, &LoadError{Node: net.output, Err: errors.New("the graph output is not computed from the input")}
	}
	p.output = out
	if err := p.schedule(); err != nil {
		return nil, err
	}
	p.vm = gorgonia.NewTapeMachine(p.g)
	return p, nil
}

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
			o.wino = newWinoConv(o.g, n, l.cout)
			o.wino.w, o.wino.bias, o.wino.relu = l.wino, l.bias, l.relu
			v, m := o.wino.bufSizes()
			o.wv, o.wm = &buffer{size: v}, &buffer{size: m}
			o.tmp = append(o.tmp, o.wv, o.wm)
		} else if !o.direct {
			o.src = &im2colSource{g: o.g, n: n}
			if l.sw == 2 {
				o.deint = &buffer{size: prod(x.shape)}
				o.tmp = append(o.tmp, o.deint)
			}
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

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// viewShape computes the output shape of Flatten or Reshape.
func viewShape(l *layer, in []int, ins []*value) ([]int, error) {
	total := prod(in)
	if l.typ == "Flatten" || len(ins) == 1 {
		axis := l.axis
		if axis < 0 {
			axis += len(in)
		}
		if axis < 0 || axis > len(in) {
			return nil, fmt.Errorf("axis %d out of range for %v", l.axis, in)
		}
		return []int{prod(in[:axis]), prod(in[axis:])}, nil
	}
	if ins[1].c == nil {
		return nil, fmt.Errorf("shape %q is not a constant", l.in[1])
	}
	want := ins[1].c.ints()
	shape := make([]int, len(want))
	infer := -1
	known := 1
	for i, d := range want {
		switch {
		case d == 0 && !l.zero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d of %v", want, i, in)
			}
			shape[i] = in[i]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has two -1", want)
			}
			infer = i
			continue
		case d < 0:
			return nil, fmt.Errorf("shape %v: negative dimension", want)
		default:
			shape[i] = int(d)
		}
		known *= shape[i]
	}
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, want)
		}
		shape[infer] = total / known
	}
	if prod(shape) != total {
		return nil, fmt.Errorf("cannot reshape %v to %v", in, want)
	}
	return shape, nil
}

// shapeOp evaluates a shape computation on constants while planning.
func shapeOp(l *layer, ins []*value) (*constant, error) {
	if len(ins) == 0 {
		return nil, errors.New("no input")
	}
	x := ins[0]
	if l.typ == "Shape" {
		c := &constant{shape: []int{len(x.shape)}, i: make([]int64, len(x.shape))}
		for i, d := range x.shape {
			c.i[i] = int64(d)
		}
		return c, nil
	}
	for i, in := range ins {
		if in.c == nil {
			return nil, fmt.Errorf("input %q is an activation; %s is only supported on shapes", l.in[i], l.typ)
		}
	}
	switch l.typ {
	case "Cast":
		return x.c, nil
	case "Gather":
		if len(ins) != 2 || len(x.c.shape) != 1 || l.axis != 0 {
			return nil, errors.New("only Gather on a 1-D constant along axis 0 is supported")
		}
		idx := ins[1].c.ints()
		c := &constant{shape: ins[1].c.shape, i: make([]int64, len(idx))}
		src := x.c.ints()
		for k, j := range idx {
			if j < 0 {
				j += int64(len(src))
			}
			if j < 0 || int(j) >= len(src) {
				return nil, fmt.Errorf("index %d out of range", idx[k])
			}
			c.i[k] = src[j]
		}
		return c, nil
	case "Unsqueeze", "Squeeze":
		axes := l.axes
		if len(ins) > 1 {
			axes = ins[1].c.ints()
		}
		shape := append([]int(nil), x.c.shape...)
		if l.typ == "Unsqueeze" {
			sorted := append([]int64(nil), axes...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
			for _, a := range sorted {
				if a < 0 {
					a += int64(len(shape) + len(axes))
				}
				if a < 0 || int(a) > len(shape) {
					return nil, fmt.Errorf("axis %d out of range", a)
				}
				shape = append(shape[:a], append([]int{1}, shape[a:]...)...)
			}
		} else {
			var kept []int
			for i, d := range shape {
				drop := len(axes) == 0 && d == 1
				for _, a := range axes {
					if int(a) == i || int(a)+len(shape) == i {
						drop = true
					}
				}
				if !drop {
					kept = append(kept, d)
				}
			}
			shape = kept
		}
		return &constant{shape: shape, f: x.c.f, i: x.c.i}, nil
	case "Concat":
		c := &constant{}
		for _, in := range ins {
			if len(in.c.shape) > 1 {
				return nil, errors.New("only Concat of 1-D constants is supported")
			}
			c.i = append(c.i, in.c.ints()...)
		}
		c.shape = []int{len(c.i)}
		return c, nil
	}
	return foldArith(l, ins)
}

// schedule reads the tape machine's execution order (gorgonia's reversed
// topological sort) and lays every buffer out in the arena: a buffer lives
// from the step that writes it to the last step that reads it, and buffers
// whose lifetimes do not overlap share memory.
func (p *plan) schedule() error {
	sorted, err := gorgonia.Sort(p.g)
	if err != nil {
		return fmt.Errorf("sort graph: %w", err)
	}
	step := map[*gorgonia.Node]int{}
	for i := range sorted {
		step[sorted[len(sorted)-1-i]] = i
	}
	byNode := map[*gorgonia.Node]*execOp{}
	for _, o := range p.ops {
		byNode[o.out.node] = o
	}
	var order []*execOp
	for i := len(sorted) - 1; i >= 0; i-- {
		if o, ok := byNode[sorted[i]]; ok {
			order = append(order, o)
		}
	}
	p.ops = order
	seen := map[*buffer]bool{}
	use := func(b *buffer, at int) {
		if !seen[b] {
			seen[b] = true
			b.first, b.last = at, at
			p.bufs = append(p.bufs, b)
		}
		b.first, b.last = min(b.first, at), max(b.last, at)
	}
	last := len(sorted)
	use(p.input.buf, -1)
	for _, o := range p.ops {
		at := step[o.out.node]
		for _, in := range o.ins {
			use(in.buf, at)
		}
		use(o.out.buf, at)
		for _, t := range o.tmp {
			use(t, at)
		}
	}
	use(p.output.buf, last)
	// First fit in order of first use, largest first among ties.
	bufs := append([]*buffer(nil), p.bufs...)
	sort.SliceStable(bufs, func(i, j int) bool {
		if bufs[i].first != bufs[j].first {
			return bufs[i].first < bufs[j].first
		}
		return bufs[i].size > bufs[j].size
	})
	var placed []*buffer
	for _, b := range bufs {
		off := 0
		for moved := true; moved; {
			moved = false
			for _, q := range placed {
				if q.last < b.first || b.last < q.first {
					continue // lifetimes do not overlap
				}
				if off < q.off+q.size && q.off < off+b.size {
					off = q.off + q.size
					moved = true
				}
			}
		}
		b.off = off
		placed = append(placed, b)
		p.arena = max(p.arena, off+b.size)
	}
	return nil
}

// bind points every buffer and output tensor at arena, which must hold at
// least p.arena floats.
func (p *plan) bind(arena []float32) {
	if len(arena) > 0 && p.bound == &arena[0] {
		return
	}
	for _, b := range p.bufs {
		b.data = arena[b.off : b.off+b.size : b.off+b.size]
	}
	p.inT = tensor.New(tensor.WithShape(p.input.shape...), tensor.WithBacking(p.input.buf.data))
	for _, o := range p.ops {
		o.outT = tensor.New(tensor.WithShape(o.out.shape...), tensor.WithBacking(o.out.buf.data[:prod(o.out.shape)]))
	}
	p.bound = &arena[0]
}

// run executes the plan on the bound arena: the input buffer must hold the
// batch already. The output buffer holds the result afterwards.
func (p *plan) run(ctx context.Context) error {
	p.ctx = ctx
	defer func() { p.ctx = context.Background() }()
	if err := gorgonia.Let(p.input.node, p.inT); err != nil {
		return fmt.Errorf("bind input: %w", err)
	}
	err := p.vm.RunAll()
	p.vm.Reset()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("run graph: %w", err)
	}
	return nil
}

// writeProfile prints the time and GFLOP/s of every op since the last call.
func (p *plan) writeProfile(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "batch %d\top\tname\toutput\tms\tGFLOP/s\t\n", p.n)
	var total time.Duration
	var flops float64
	for i, o := range p.ops {
		gf := ""
		if o.flops > 0 && o.dur > 0 {
			gf = fmt.Sprintf("%.1f", o.flops/o.dur.Seconds()/1e9)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%.3f\t%s\t\n", i, o.l.typ, o.l.name, o.out.shape, float64(o.dur.Microseconds())/1000, gf)
		total += o.dur
		flops += o.flops
		o.dur = 0
	}
	fmt.Fprintf(tw, "\ttotal\t\t\t%.3f\t%.1f\t\n", float64(total.Microseconds())/1000, flops/total.Seconds()/1e9)
	tw.Flush()
}
