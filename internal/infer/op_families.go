package infer

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// The operators of the model families beyond ResNet (MobileNet,
// EfficientNet, SqueezeNet, DenseNet, RegNet): their attributes, lowering
// and planning. The kernels are in op_gconv.go, op_eltwise.go, op_pool.go.

func init() {
	for op, attrs := range map[string][]string{
		"Clip":               {"min", "max"},
		"Sigmoid":            {},
		"HardSigmoid":        {"alpha", "beta"},
		"HardSwish":          {},
		"Erf":                {},
		"Sqrt":               {},
		"Sub":                {},
		"Mul":                {"consumed_inputs"},
		"Div":                {},
		"Pow":                {},
		"AveragePool":        {"kernel_shape", "strides", "pads", "ceil_mode", "count_include_pad", "auto_pad"},
		"Pad":                {"mode", "pads", "value"},
		"Transpose":          {"perm"},
		"Slice":              {},
		"ReduceMean":         {"axes", "keepdims"},
		"LayerNormalization": {"axis", "epsilon", "stash_type"},
		"ConstantOfShape":    {"value"},
		"Equal":              {},
		"Where":              {},
		"Expand":             {},
	} {
		allowedAttrs[op] = attrs
	}
}

// Supported reports whether the engine implements the ONNX operator.
func Supported(op string) bool {
	_, ok := allowedAttrs[op]
	return ok
}

// Missing returns the operators of d the engine does not implement, sorted.
func (d *Description) Missing() []string {
	var out []string
	for op := range d.Operators {
		if !Supported(op) {
			out = append(out, op)
		}
	}
	sort.Strings(out)
	return out
}

// missingOperators is a load error naming every unsupported operator of m,
// or nil.
func missingOperators(m *model) error {
	count := map[string]int{}
	first := map[string]string{}
	for _, op := range m.ops {
		if !Supported(op.typ) {
			if count[op.typ] == 0 {
				first[op.typ] = op.name
			}
			count[op.typ]++
		}
	}
	if len(count) == 0 {
		return nil
	}
	names := make([]string, 0, len(count))
	for op := range count {
		names = append(names, op)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, op := range names {
		parts[i] = fmt.Sprintf("%s (%d nodes, first node %q)", op, count[op], first[op])
	}
	if len(parts) == 1 {
		return &LoadError{Err: fmt.Errorf("unsupported operator %s", parts[0])}
	}
	return &LoadError{Err: fmt.Errorf("unsupported operators %s", strings.Join(parts, ", "))}
}

// lowerExtra lowers the operators of this file.
func lowerExtra(net *network, op *irOp, l *layer) (*layer, error) {
	switch op.typ {
	case "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Erf", "Sqrt":
		a, err := lowerActivation(net, op)
		if err != nil {
			return nil, err
		}
		l.kind, l.in, l.act = kUnary, op.in[:1], a
		return l, nil
	case "Sub", "Mul", "Div", "Pow":
		if err := wantInputs(op, 2, 2); err != nil {
			return nil, err
		}
		l.kind, l.in, l.arith = kBinary, op.in, op.typ
		return l, nil
	case "AveragePool":
		if err := lowerPoolWindow(op, l); err != nil {
			return nil, err
		}
		cip, err := attrInt(op, "count_include_pad", 0)
		if err != nil {
			return nil, err
		}
		l.kind, l.includePads = kAvgPool, cip != 0
		return l, nil
	case "Pad":
		return l, lowerPad(net, op, l)
	case "Transpose", "Slice", "ReduceMean":
		return lowerLayout(op, l)
	case "LayerNormalization":
		return l, lowerLayerNorm(net, op, l)
	case "ConstantOfShape", "Equal", "Where", "Expand":
		return lowerFold(op, l)
	}
	return nil, fmt.Errorf("unsupported operator %s", op.typ)
}

// lowerActivation reads an element-wise activation and its parameters.
func lowerActivation(net *network, op *irOp) (activation, error) {
	a := activation{lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))}
	var err error
	switch op.typ {
	case "Clip":
		a.kind = actClip
		if a.lo, err = attrFloat(op, "min", a.lo); err != nil {
			return a, err
		}
		if a.hi, err = attrFloat(op, "max", a.hi); err != nil {
			return a, err
		}
		for i, dst := range []*float32{&a.lo, &a.hi} {
			if len(op.in) <= i+1 || op.in[i+1] == "" {
				continue
			}
			c, ok := net.consts[op.in[i+1]]
			if !ok || c.size() != 1 {
				return a, fmt.Errorf("Clip bound %q must be a constant scalar", op.in[i+1])
			}
			if c.f != nil {
				*dst = c.f[0]
			} else {
				*dst = float32(c.i[0])
			}
		}
		if a.lo == 0 && math.IsInf(float64(a.hi), 1) {
			a.kind = actRelu
		}
		return a, nil
	case "HardSigmoid":
		a.kind = actHardSigmoid
		if a.alpha, err = attrFloat(op, "alpha", 0.2); err != nil {
			return a, err
		}
		a.beta, err = attrFloat(op, "beta", 0.5)
		return a, err
	}
	a.kind = map[string]actKind{"Sigmoid": actSigmoid, "HardSwish": actHardSwish, "Erf": actErf, "Sqrt": actSqrt}[op.typ]
	return a, wantInputs(op, 1, 1)
}

// lowerPoolWindow reads the window attributes of a pooling operator.
func lowerPoolWindow(op *irOp, l *layer) error {
	ks, ok, err := attrInts(op, "kernel_shape")
	if err != nil {
		return err
	}
	if !ok || len(ks) != 2 || ks[0] < 1 || ks[1] < 1 {
		return fmt.Errorf("kernel_shape %v: want two positive values", ks)
	}
	if ap, _ := attrString(op, "auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return fmt.Errorf("auto_pad %q is not supported", ap)
	}
	ceil, err := attrInt(op, "ceil_mode", 0)
	if err != nil {
		return err
	}
	l.in = op.in[:1]
	l.kh, l.kw, l.ceil = int(ks[0]), int(ks[1]), ceil != 0
	if l.sh, l.sw, err = strides(op); err != nil {
		return err
	}
	l.pads, err = pads(op)
	return err
}

// lowerPad reads a constant-mode Pad of the two spatial axes of [N,C,H,W].
func lowerPad(net *network, op *irOp, l *layer) error {
	if mode, err := attrString(op, "mode", "constant"); err != nil || mode != "constant" {
		return fmt.Errorf("Pad mode %q is not supported (only constant)", mode)
	}
	p, _, err := attrInts(op, "pads")
	if err != nil {
		return err
	}
	if l.padValue, err = attrFloat(op, "value", 0); err != nil {
		return err
	}
	if len(op.in) > 1 && op.in[1] != "" {
		c, ok := net.consts[op.in[1]]
		if !ok {
			return fmt.Errorf("pads %q must be a constant", op.in[1])
		}
		p = c.ints()
	}
	if len(op.in) > 2 && op.in[2] != "" {
		c, ok := net.consts[op.in[2]]
		if !ok || c.f == nil || c.size() != 1 {
			return fmt.Errorf("constant_value %q must be a constant float scalar", op.in[2])
		}
		l.padValue = c.f[0]
	}
	if len(op.in) > 3 && op.in[3] != "" {
		return errors.New("Pad with axes is not supported")
	}
	if len(p) != 8 || p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0 {
		return fmt.Errorf("pads %v: only padding H and W of [N,C,H,W] is supported", p)
	}
	for _, v := range p {
		if v < 0 {
			return fmt.Errorf("pads %v: negative padding is not supported", p)
		}
	}
	l.kind, l.in = kPad, op.in[:1]
	l.pads = [4]int{int(p[2]), int(p[3]), int(p[6]), int(p[7])}
	return nil
}

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
		a := l.act
		if l.relu {
			a = activation{kind: actRelu}
		}
		groupConv(dst, src, l.w, l.bias, n, o.g, l.cin, l.cout, l.group, a)
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

// fuseActivations turns Mul(x, Sigmoid(x)) into SiLU and folds an
// activation into the grouped convolution before it.
func fuseActivations(net *network, uses func() map[string]int, producers func() map[string]int, remove func(map[*layer]bool)) {
	u, p, drop := uses(), producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kBinary || l.arith != "Mul" || len(l.in) != 2 {
			continue
		}
		for j, in := range l.in {
			i, ok := p[in]
			if !ok || u[in] != 1 {
				continue
			}
			s := net.layers[i]
			if s.kind != kUnary || s.act.kind != actSigmoid || s.in[0] != l.in[1-j] || drop[s] {
				continue
			}
			l.kind, l.in, l.act, l.arith = kUnary, []string{s.in[0]}, activation{kind: actSiLU}, ""
			l.typ = "Sigmoid+Mul"
			drop[s] = true
			break
		}
	}
	remove(drop)
	u, p, drop = uses(), producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kUnary || u[l.in[0]] != 1 {
			continue
		}
		i, ok := p[l.in[0]]
		if !ok {
			continue
		}
		c := net.layers[i]
		if c.kind != kGConv || c.relu || c.act.kind != actNone || drop[c] {
			continue
		}
		c.act, c.out = l.act, l.out
		c.typ += "+" + l.typ
		drop[l] = true
	}
	remove(drop)
}
