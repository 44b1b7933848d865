package infer

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/mlserve/mlserve/internal/onnx"
)

// The operators of the model families beyond ResNet (MobileNet,
// EfficientNet, SqueezeNet, DenseNet, RegNet): their attributes, lowering
// and planning. The kernels are in op_gconv.go, op_eltwise.go, op_pool.go.

// Supported reports whether the engine implements the ONNX operator: it
// lowers every operator internal/onnx reads into a typed op
// (TestLowersEveryKnownOperator).
func Supported(op string) bool { return onnx.Known(op) }

// Missing returns the operators of d the engine does not implement, sorted.
func Missing(d *onnx.Description) []string {
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
		n := op.Base()
		if !Supported(n.OpType) {
			if count[n.OpType] == 0 {
				first[n.OpType] = n.Name
			}
			count[n.OpType]++
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
func lowerExtra(net *network, op onnx.Op, l *layer) (*layer, error) {
	n := op.Base()
	switch o := op.(type) {
	case *onnx.Clip, *onnx.Sigmoid, *onnx.HardSigmoid, *onnx.HardSwish, *onnx.Erf, *onnx.Sqrt:
		a, err := lowerActivation(net, op)
		if err != nil {
			return nil, err
		}
		l.kind, l.in, l.act = kUnary, n.Inputs[:1], a
		return l, nil
	case *onnx.Sub, *onnx.Mul, *onnx.Div, *onnx.Pow:
		if err := wantInputs(n, 2, 2); err != nil {
			return nil, err
		}
		l.kind, l.in, l.arith = kBinary, n.Inputs, n.OpType
		return l, nil
	case *onnx.AveragePool:
		l.kind, l.includePads = kAvgPool, o.CountIncludePad
		return l, lowerPoolWindow(n, o.KernelShape, o.Strides, o.Pads, o.AutoPad, o.CeilMode, l)
	case *onnx.Pad:
		return l, lowerPad(net, o, l)
	case *onnx.Transpose, *onnx.Slice, *onnx.ReduceMean:
		return lowerLayout(op, l)
	case *onnx.LayerNormalization:
		return l, lowerLayerNorm(net, o, l)
	case *onnx.ConstantOfShape, *onnx.Equal, *onnx.Where, *onnx.Expand:
		return lowerFold(op, l)
	}
	return nil, fmt.Errorf("unsupported operator %s", n.OpType)
}

// lowerActivation reads an element-wise activation and its parameters.
func lowerActivation(net *network, op onnx.Op) (activation, error) {
	a := activation{lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))}
	n := op.Base()
	switch o := op.(type) {
	case *onnx.Clip:
		a.kind = actClip
		if o.Min != nil {
			a.lo = *o.Min
		}
		if o.Max != nil {
			a.hi = *o.Max
		}
		for i, dst := range []*float32{&a.lo, &a.hi} {
			if !hasInput(n, i+1) {
				continue
			}
			c, ok := net.consts[n.Inputs[i+1]]
			if !ok || c.size() != 1 {
				return a, fmt.Errorf("Clip bound %q must be a constant scalar", n.Inputs[i+1])
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
	case *onnx.HardSigmoid:
		a.kind, a.alpha, a.beta = actHardSigmoid, o.Alpha, o.Beta
		return a, nil
	}
	a.kind = map[string]actKind{"Sigmoid": actSigmoid, "HardSwish": actHardSwish, "Erf": actErf, "Sqrt": actSqrt}[n.OpType]
	return a, wantInputs(n, 1, 1)
}

// lowerPoolWindow reads the window attributes of a pooling operator.
func lowerPoolWindow(n *onnx.Node, ks, st, pd []int64, autoPad string, ceil bool, l *layer) error {
	if len(ks) != 2 || ks[0] < 1 || ks[1] < 1 {
		return fmt.Errorf("kernel_shape %v: want two positive values", ks)
	}
	if autoPad != "NOTSET" && autoPad != "VALID" {
		return fmt.Errorf("auto_pad %q is not supported", autoPad)
	}
	l.in = n.Inputs[:1]
	l.kh, l.kw, l.ceil = int(ks[0]), int(ks[1]), ceil
	var err error
	if l.sh, l.sw, err = strides(st); err != nil {
		return err
	}
	l.pads, err = pads(pd)
	return err
}

// lowerPad reads a constant-mode Pad of the two spatial axes of [N,C,H,W].
func lowerPad(net *network, o *onnx.Pad, l *layer) error {
	n := &o.Node
	if o.Mode != "constant" {
		return fmt.Errorf("Pad mode %q is not supported (only constant)", o.Mode)
	}
	p := o.Pads
	l.padValue = o.Value
	if hasInput(n, 1) {
		c, ok := net.consts[n.Inputs[1]]
		if !ok {
			return fmt.Errorf("pads %q must be a constant", n.Inputs[1])
		}
		p = c.ints()
	}
	if hasInput(n, 2) {
		c, ok := net.consts[n.Inputs[2]]
		if !ok || c.f == nil || c.size() != 1 {
			return fmt.Errorf("constant_value %q must be a constant float scalar", n.Inputs[2])
		}
		l.padValue = c.f[0]
	}
	if hasInput(n, 3) {
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
	l.kind, l.in = kPad, n.Inputs[:1]
	l.pads = [4]int{int(p[2]), int(p[3]), int(p[6]), int(p[7])}
	return nil
}
