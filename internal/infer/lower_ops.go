package infer

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/mlserve/mlserve/internal/gemm"
)

// lowerOp lowers one operation; nil with no error means it becomes an alias
// (Identity, Dropout) or a constant (Constant).
func lowerOp(net *network, op *irOp) (*layer, error) {
	l := &layer{typ: op.typ, name: op.name, out: op.out[0]}
	switch op.typ {
	case "Identity", "Dropout":
		return nil, nil
	case "Constant":
		c, err := constantValue(op)
		if err != nil {
			return nil, err
		}
		net.consts[op.out[0]] = c
		return nil, nil
	case "Conv":
		return l, lowerConv(net, op, l)
	case "BatchNormalization":
		return lowerBatchNorm(net, op, l)
	case "Relu":
		l.kind, l.in = kRelu, op.in[:1]
		return l, wantInputs(op, 1, 1)
	case "Add":
		if err := wantInputs(op, 2, 2); err != nil {
			return nil, err
		}
		l.kind, l.in = kAdd, op.in
		for _, in := range op.in {
			if _, ok := net.consts[in]; ok {
				l.kind, l.arith = kBinary, "Add" // a bias: broadcasting (op_eltwise.go)
			}
		}
		return l, nil
	case "MaxPool":
		return l, lowerMaxPool(op, l)
	case "GlobalAveragePool":
		l.kind, l.in = kGAP, op.in[:1]
		return l, wantInputs(op, 1, 1)
	case "Flatten":
		axis, err := attrInt(op, "axis", 1)
		if err != nil {
			return nil, err
		}
		l.kind, l.in, l.axis = kView, op.in[:1], int(axis)
		return l, nil
	case "Reshape":
		if err := wantInputs(op, 2, 2); err != nil {
			return nil, err
		}
		z, err := attrInt(op, "allowzero", 0)
		if err != nil {
			return nil, err
		}
		l.kind, l.in, l.zero = kView, op.in, z != 0
		return l, nil
	case "Gemm", "MatMul":
		if _, ok := net.consts[op.in[len(op.in)-1]]; op.typ == "MatMul" && !ok && len(op.in) == 2 {
			l.kind, l.in = kMatMul, op.in // of two activations (op_matmul.go)
			return l, nil
		}
		return l, lowerFC(net, op, l)
	case "Softmax":
		// Opset 13 changed the default axis from 1 to -1: both are the
		// class axis of [N, classes], the only softmax the engine runs.
		axis, err := attrInt(op, "axis", -1)
		if err != nil {
			return nil, err
		}
		l.kind, l.in, l.softmax = kSoftmax, op.in[:1], int(axis)
		return l, nil
	case "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast":
		return lowerShapeOp(op, l)
	}
	return lowerExtra(net, op, l)
}

// lowerBatchNorm turns an inference-mode BatchNormalization into a
// per-channel scale and shift.
func lowerBatchNorm(net *network, op *irOp, l *layer) (*layer, error) {
	if err := wantInputs(op, 5, 5); err != nil {
		return nil, err
	}
	if tm, _ := attrInt(op, "training_mode", 0); tm != 0 {
		return nil, errors.New("training_mode=1 is not supported")
	}
	if sp, err := attrInt(op, "spatial", 1); err != nil || sp != 1 {
		return nil, fmt.Errorf("spatial=%d is not supported (only per-channel statistics)", sp)
	}
	eps, err := attrFloat(op, "epsilon", 1e-5)
	if err != nil {
		return nil, err
	}
	var cs [4]*constant
	for i, what := range []string{"scale", "bias", "mean", "var"} {
		if cs[i], err = net.constInput(op, i+1, what); err != nil {
			return nil, err
		}
	}
	c := cs[0].size()
	for i := range cs {
		if cs[i].size() != c {
			return nil, fmt.Errorf("BatchNormalization parameters have %d and %d values", c, cs[i].size())
		}
	}
	l.kind, l.in = kAffine, op.in[:1]
	l.scale, l.shift = make([]float32, c), make([]float32, c)
	for i := 0; i < c; i++ {
		s := float64(cs[0].f[i]) / math.Sqrt(float64(cs[3].f[i])+float64(eps))
		l.scale[i] = float32(s)
		l.shift[i] = float32(float64(cs[1].f[i]) - float64(cs[2].f[i])*s)
	}
	return l, nil
}

// lowerShapeOp reads a shape computation (computed when planning) or a
// Concat or Gather of activations.
func lowerShapeOp(op *irOp, l *layer) (*layer, error) {
	l.kind, l.in = kShapeOp, op.in
	axis, err := attrInt(op, "axis", 0)
	if err != nil {
		return nil, err
	}
	l.axis = int(axis)
	if l.axes, _, err = attrInts(op, "axes"); err != nil {
		return nil, err
	}
	if op.typ == "Shape" {
		if _, ok := op.attrs["start"]; ok {
			return nil, errors.New("Shape with start/end is not supported")
		}
	}
	return l, nil
}

func constantValue(op *irOp) (*constant, error) {
	for name, v := range op.attrs {
		switch name {
		case "value":
			t, ok := v.(tensor.Tensor)
			if !ok {
				return nil, fmt.Errorf("value: want a tensor, got %T", v)
			}
			return toConstant(t)
		case "value_float":
			if f, ok := v.(float32); ok {
				return &constant{f: []float32{f}}, nil
			}
		case "value_floats":
			if fs, ok := v.([]float32); ok {
				return &constant{shape: []int{len(fs)}, f: append([]float32(nil), fs...)}, nil
			}
		case "value_int":
			if i, ok := v.(int64); ok {
				return &constant{i: []int64{i}}, nil
			}
		case "value_ints":
			if is, ok := v.([]int64); ok {
				return &constant{shape: []int{len(is)}, i: append([]int64(nil), is...)}, nil
			}
		}
	}
	return nil, errors.New("Constant without a supported value")
}

func lowerConv(net *network, op *irOp, l *layer) error {
	if err := wantInputs(op, 2, 3); err != nil {
		return err
	}
	w, err := net.constInput(op, 1, "weight")
	if err != nil {
		return err
	}
	if len(w.shape) != 4 {
		return fmt.Errorf("weight shape %v: only 2-D convolutions are supported", w.shape)
	}
	g, err := attrInt(op, "group", 1)
	if err != nil || g < 1 || w.shape[0]%int(g) != 0 {
		return fmt.Errorf("group=%d does not divide %d output channels", g, w.shape[0])
	}
	if d, ok, err := attrInts(op, "dilations"); err != nil {
		return err
	} else if ok && (len(d) != 2 || d[0] != 1 || d[1] != 1) {
		return fmt.Errorf("dilations %v: only 1 is supported", d)
	}
	l.kind, l.in = kConv, op.in[:1]
	if g > 1 {
		l.kind, l.group = kGConv, int(g)
	}
	l.cout, l.cin, l.kh, l.kw = w.shape[0], w.shape[1], w.shape[2], w.shape[3]
	if ks, ok, err := attrInts(op, "kernel_shape"); err != nil {
		return err
	} else if ok && (len(ks) != 2 || int(ks[0]) != l.kh || int(ks[1]) != l.kw) {
		return fmt.Errorf("kernel_shape %v does not match the weight shape %v", ks, w.shape)
	}
	if l.sh, l.sw, err = strides(op); err != nil {
		return err
	}
	if l.pads, err = pads(op); err != nil {
		return err
	}
	if l.autoPad, err = attrString(op, "auto_pad", "NOTSET"); err != nil {
		return err
	}
	switch l.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return fmt.Errorf("auto_pad %q is not supported", l.autoPad)
	}
	l.w = append([]float32(nil), w.f...)
	l.bias = make([]float32, l.cout)
	if len(op.in) > 2 && op.in[2] != "" {
		b, err := net.constInput(op, 2, "bias")
		if err != nil {
			return err
		}
		if b.size() != l.cout {
			return fmt.Errorf("bias has %d values for %d output channels", b.size(), l.cout)
		}
		copy(l.bias, b.f)
	}
	return nil
}

func lowerMaxPool(op *irOp, l *layer) error {
	ks, ok, err := attrInts(op, "kernel_shape")
	if err != nil {
		return err
	}
	if !ok || len(ks) != 2 || ks[0] < 1 || ks[1] < 1 {
		return fmt.Errorf("kernel_shape %v: want two positive values", ks)
	}
	if d, ok, err := attrInts(op, "dilations"); err != nil {
		return err
	} else if ok && (len(d) != 2 || d[0] != 1 || d[1] != 1) {
		return fmt.Errorf("dilations %v: only 1 is supported", d)
	}
	if ap, _ := attrString(op, "auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return fmt.Errorf("auto_pad %q is not supported", ap)
	}
	if len(op.out) > 1 {
		return errors.New("the Indices output is not supported")
	}
	ceil, err := attrInt(op, "ceil_mode", 0)
	if err != nil {
		return err
	}
	l.kind, l.in = kMaxPool, op.in[:1]
	l.kh, l.kw, l.ceil = int(ks[0]), int(ks[1]), ceil != 0
	if l.sh, l.sw, err = strides(op); err != nil {
		return err
	}
	l.pads, err = pads(op)
	return err
}

func lowerFC(net *network, op *irOp, l *layer) error {
	if err := wantInputs(op, 2, 3); err != nil {
		return err
	}
	w, err := net.constInput(op, 1, "weight")
	if err != nil {
		return err
	}
	if len(w.shape) != 2 {
		return fmt.Errorf("weight shape %v: want a matrix", w.shape)
	}
	transA, _ := attrInt(op, "transA", 0)
	transB, _ := attrInt(op, "transB", 0)
	alpha, err := attrFloat(op, "alpha", 1)
	if err != nil {
		return err
	}
	beta, err := attrFloat(op, "beta", 1)
	if err != nil {
		return err
	}
	if transA != 0 {
		return errors.New("transA=1 is not supported")
	}
	l.kind, l.in = kFC, op.in[:1]
	var wt []float32 // [m, k]
	if transB != 0 {
		l.m, l.k = w.shape[0], w.shape[1]
		wt = append([]float32(nil), w.f...)
	} else {
		l.k, l.m = w.shape[0], w.shape[1]
		wt = make([]float32, l.m*l.k)
		for i := 0; i < l.k; i++ {
			for j := 0; j < l.m; j++ {
				wt[j*l.k+i] = w.f[i*l.m+j]
			}
		}
	}
	if alpha != 1 {
		for i := range wt {
			wt[i] *= alpha
		}
	}
	l.packed = gemm.PackA(wt, l.m, l.k)
	l.bias = make([]float32, l.m)
	if op.typ == "Gemm" && len(op.in) > 2 && op.in[2] != "" {
		b, err := net.constInput(op, 2, "bias")
		if err != nil {
			return err
		}
		switch b.size() {
		case 1:
			for i := range l.bias {
				l.bias[i] = beta * b.f[0]
			}
		case l.m:
			for i := range l.bias {
				l.bias[i] = beta * b.f[i]
			}
		default:
			return fmt.Errorf("bias of %d values for %d outputs is not supported", b.size(), l.m)
		}
	}
	return nil
}
