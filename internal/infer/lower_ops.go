package infer

import (
	"errors"
	"fmt"
	"math"

	"github.com/mlserve/mlserve/internal/gemm"
	"github.com/mlserve/mlserve/internal/onnx"
)

// lowerOp lowers one operation; nil with no error means it becomes an alias
// (Identity, Dropout) or a constant (Constant).
func lowerOp(net *network, op onnx.Op) (*layer, error) {
	n := op.Base()
	l := &layer{typ: n.OpType, name: n.Name, out: n.Outputs[0]}
	switch o := op.(type) {
	case *onnx.Identity, *onnx.Dropout:
		return nil, nil
	case *onnx.Constant:
		c, err := toConstant(o.Value)
		if err != nil {
			return nil, err
		}
		net.consts[n.Outputs[0]] = c
		return nil, nil
	case *onnx.Conv:
		return l, lowerConv(net, o, l)
	case *onnx.BatchNormalization:
		return lowerBatchNorm(net, o, l)
	case *onnx.Relu:
		l.kind, l.in = kRelu, n.Inputs[:1]
		return l, wantInputs(n, 1, 1)
	case *onnx.Add:
		if err := wantInputs(n, 2, 2); err != nil {
			return nil, err
		}
		l.kind, l.in = kAdd, n.Inputs
		for _, in := range n.Inputs {
			if _, ok := net.consts[in]; ok {
				l.kind, l.arith = kBinary, "Add" // a bias: broadcasting (op_eltwise.go)
			}
		}
		return l, nil
	case *onnx.MaxPool:
		return l, lowerMaxPool(o, l)
	case *onnx.GlobalAveragePool:
		l.kind, l.in = kGAP, n.Inputs[:1]
		return l, wantInputs(n, 1, 1)
	case *onnx.Flatten:
		l.kind, l.in, l.axis = kView, n.Inputs[:1], int(o.Axis)
		return l, nil
	case *onnx.Reshape:
		l.kind, l.in, l.zero = kView, n.Inputs, o.AllowZero
		return l, wantInputs(n, 2, 2)
	case *onnx.Gemm:
		return l, lowerFC(net, n, o, l)
	case *onnx.MatMul:
		if _, ok := net.consts[n.Inputs[len(n.Inputs)-1]]; !ok && len(n.Inputs) == 2 {
			l.kind, l.in = kMatMul, n.Inputs // of two activations (op_matmul.go)
			return l, nil
		}
		return l, lowerFC(net, n, &onnx.Gemm{Alpha: 1, Beta: 1}, l)
	case *onnx.Softmax:
		// The reader defaults the axis by opset (1 before 13, -1 after):
		// both are the class axis of [N, classes], the only softmax the
		// engine runs.
		l.kind, l.in, l.softmax = kSoftmax, n.Inputs[:1], int(o.Axis)
		return l, nil
	case *onnx.Shape, *onnx.Gather, *onnx.Unsqueeze, *onnx.Squeeze, *onnx.Concat, *onnx.Cast:
		return lowerShapeOp(op, l)
	}
	return lowerExtra(net, op, l)
}

// lowerBatchNorm turns an inference-mode BatchNormalization into a
// per-channel scale and shift.
func lowerBatchNorm(net *network, o *onnx.BatchNormalization, l *layer) (*layer, error) {
	n := &o.Node
	if err := wantInputs(n, 5, 5); err != nil {
		return nil, err
	}
	if o.TrainingMode != 0 {
		return nil, errors.New("training_mode=1 is not supported")
	}
	if o.Spatial != 1 {
		return nil, fmt.Errorf("spatial=%d is not supported (only per-channel statistics)", o.Spatial)
	}
	var cs [4]*constant
	for i, what := range []string{"scale", "bias", "mean", "var"} {
		var err error
		if cs[i], err = net.constInput(n, i+1, what); err != nil {
			return nil, err
		}
	}
	c := cs[0].size()
	for i := range cs {
		if cs[i].size() != c {
			return nil, fmt.Errorf("BatchNormalization parameters have %d and %d values", c, cs[i].size())
		}
	}
	l.kind, l.in = kAffine, n.Inputs[:1]
	l.scale, l.shift = make([]float32, c), make([]float32, c)
	for i := 0; i < c; i++ {
		s := float64(cs[0].f[i]) / math.Sqrt(float64(cs[3].f[i])+float64(o.Epsilon))
		l.scale[i] = float32(s)
		l.shift[i] = float32(float64(cs[1].f[i]) - float64(cs[2].f[i])*s)
	}
	return l, nil
}

// lowerShapeOp reads a shape computation (computed when planning) or a
// Concat or Gather of activations.
func lowerShapeOp(op onnx.Op, l *layer) (*layer, error) {
	l.kind, l.in = kShapeOp, op.Base().Inputs
	switch o := op.(type) {
	case *onnx.Gather:
		l.axis = int(o.Axis)
	case *onnx.Concat:
		l.axis = int(o.Axis)
	case *onnx.Unsqueeze:
		l.axes = o.Axes
	case *onnx.Squeeze:
		l.axes = o.Axes
	case *onnx.Shape:
		if o.Start != nil || o.End != nil {
			return nil, errors.New("Shape with start/end is not supported")
		}
	}
	return l, nil
}

func lowerConv(net *network, o *onnx.Conv, l *layer) error {
	n := &o.Node
	if err := wantInputs(n, 2, 3); err != nil {
		return err
	}
	w, err := net.constInput(n, 1, "weight")
	if err != nil {
		return err
	}
	if len(w.shape) != 4 {
		return fmt.Errorf("weight shape %v: only 2-D convolutions are supported", w.shape)
	}
	g := o.Group
	if g < 1 || w.shape[0]%int(g) != 0 {
		return fmt.Errorf("group=%d does not divide %d output channels", g, w.shape[0])
	}
	if err := unitDilations(o.Dilations); err != nil {
		return err
	}
	l.kind, l.in = kConv, n.Inputs[:1]
	if g > 1 {
		l.kind, l.group = kGConv, int(g)
	}
	l.cout, l.cin, l.kh, l.kw = w.shape[0], w.shape[1], w.shape[2], w.shape[3]
	if ks := o.KernelShape; ks != nil && (len(ks) != 2 || int(ks[0]) != l.kh || int(ks[1]) != l.kw) {
		return fmt.Errorf("kernel_shape %v does not match the weight shape %v", ks, w.shape)
	}
	if l.sh, l.sw, err = strides(o.Strides); err != nil {
		return err
	}
	if l.pads, err = pads(o.Pads); err != nil {
		return err
	}
	switch l.autoPad = o.AutoPad; l.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return fmt.Errorf("auto_pad %q is not supported", l.autoPad)
	}
	l.w = append([]float32(nil), w.f...)
	l.bias = make([]float32, l.cout)
	if hasInput(n, 2) {
		b, err := net.constInput(n, 2, "bias")
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

func lowerMaxPool(o *onnx.MaxPool, l *layer) error {
	if err := unitDilations(o.Dilations); err != nil {
		return err
	}
	if len(o.Outputs) > 1 {
		return errors.New("the Indices output is not supported")
	}
	l.kind = kMaxPool
	return lowerPoolWindow(&o.Node, o.KernelShape, o.Strides, o.Pads, o.AutoPad, o.CeilMode, l)
}

// lowerFC lowers a Gemm, or a MatMul by a constant (as g of alpha 1).
func lowerFC(net *network, n *onnx.Node, g *onnx.Gemm, l *layer) error {
	if err := wantInputs(n, 2, 3); err != nil {
		return err
	}
	w, err := net.constInput(n, 1, "weight")
	if err != nil {
		return err
	}
	if len(w.shape) != 2 {
		return fmt.Errorf("weight shape %v: want a matrix", w.shape)
	}
	if g.TransA {
		return errors.New("transA=1 is not supported")
	}
	l.kind, l.in = kFC, n.Inputs[:1]
	var wt []float32 // [m, k]
	if g.TransB {
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
	if g.Alpha != 1 {
		for i := range wt {
			wt[i] *= g.Alpha
		}
	}
	l.packed = gemm.PackA(wt, l.m, l.k)
	l.bias = make([]float32, l.m)
	if n.OpType == "Gemm" && hasInput(n, 2) {
		b, err := net.constInput(n, 2, "bias")
		if err != nil {
			return err
		}
		switch b.size() {
		case 1:
			for i := range l.bias {
				l.bias[i] = g.Beta * b.f[0]
			}
		case l.m:
			for i := range l.bias {
				l.bias[i] = g.Beta * b.f[i]
			}
		default:
			return fmt.Errorf("bias of %d values for %d outputs is not supported", b.size(), l.m)
		}
	}
	return nil
}
