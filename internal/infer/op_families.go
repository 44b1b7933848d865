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
