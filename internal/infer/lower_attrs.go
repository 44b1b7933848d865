package infer

import (
	"fmt"
)

// allowedAttrs lists, per operator, the attributes the engine reads or may
// safely ignore; any other attribute is a load error naming the node.
var allowedAttrs = map[string][]string{
	"Conv":               {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"},
	"BatchNormalization": {"epsilon", "momentum", "spatial", "is_test", "consumed_inputs", "training_mode"},
	"Relu":               {"consumed_inputs"},
	"Add":                {"consumed_inputs"},
	"MaxPool":            {"kernel_shape", "strides", "pads", "ceil_mode", "dilations", "auto_pad", "storage_order"},
	"GlobalAveragePool":  {},
	"Flatten":            {"axis"},
	"Reshape":            {"allowzero"},
	"Gemm":               {"alpha", "beta", "transA", "transB", "broadcast"},
	"MatMul":             {},
	"Softmax":            {"axis"},
	"Identity":           {},
	"Dropout":            {"ratio", "seed", "is_test", "training_mode"},
	"Constant":           {"value", "value_float", "value_floats", "value_int", "value_ints"},
	"Shape":              {"start", "end"},
	"Gather":             {"axis"},
	"Unsqueeze":          {"axes"},
	"Squeeze":            {"axes"},
	"Concat":             {"axis"},
	"Cast":               {"to", "saturate"},
}

// lower turns the decoded model into layers: weights are transformed and
// packed once here, BatchNormalization is folded into the convolution before

func checkAttrs(op *irOp) error {
	allowed, ok := allowedAttrs[op.typ]
	if !ok {
		return &LoadError{Node: op.name, Op: op.typ, Err: fmt.Errorf("unsupported operator %s", op.typ)}
	}
next:
	for name := range op.attrs {
		for _, a := range allowed {
			if a == name {
				continue next
			}
		}
		return &LoadError{Node: op.name, Op: op.typ, Err: fmt.Errorf("unsupported attribute %q", name)}
	}
	return nil
}

func attrInt(op *irOp, name string, def int64) (int64, error) {
	v, ok := op.attrs[name]
	if !ok {
		return def, nil
	}
	i, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("attribute %s: want an int, got %T", name, v)
	}
	return i, nil
}

func attrFloat(op *irOp, name string, def float32) (float32, error) {
	v, ok := op.attrs[name]
	if !ok {
		return def, nil
	}
	f, ok := v.(float32)
	if !ok {
		return 0, fmt.Errorf("attribute %s: want a float, got %T", name, v)
	}
	return f, nil
}

func attrInts(op *irOp, name string) ([]int64, bool, error) {
	v, ok := op.attrs[name]
	if !ok {
		return nil, false, nil
	}
	is, ok := v.([]int64)
	if !ok {
		return nil, false, fmt.Errorf("attribute %s: want ints, got %T", name, v)
	}
	return is, true, nil
}

func attrString(op *irOp, name, def string) (string, error) {
	v, ok := op.attrs[name]
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("attribute %s: want a string, got %T", name, v)
	}
	return s, nil
}

func (net *network) constInput(op *irOp, i int, what string) (*constant, error) {
	if i >= len(op.in) || op.in[i] == "" {
		return nil, fmt.Errorf("missing %s input", what)
	}
	c, ok := net.consts[op.in[i]]
	if !ok {
		return nil, fmt.Errorf("%s %q must be a constant (an initializer)", what, op.in[i])
	}
	if c.f == nil {
		return nil, fmt.Errorf("%s %q is not a float tensor", what, op.in[i])
	}
	return c, nil
}

func wantInputs(op *irOp, lo, hi int) error {
	n := 0
	for _, in := range op.in {
		if in != "" {
			n++
		}
	}
	if n < lo || n > hi {
		return fmt.Errorf("has %d inputs, want %d to %d", n, lo, hi)
	}
	return nil
}

// lowerOp lowers one operation; nil with no error means it becomes an alias
func strides(op *irOp) (int, int, error) {
	s, ok, err := attrInts(op, "strides")
	if err != nil || !ok {
		return 1, 1, err
	}
	if len(s) != 2 || s[0] < 1 || s[1] < 1 {
		return 0, 0, fmt.Errorf("strides %v: want two positive values", s)
	}
	return int(s[0]), int(s[1]), nil
}

func pads(op *irOp) ([4]int, error) {
	var p [4]int
	v, ok, err := attrInts(op, "pads")
	if err != nil || !ok {
		return p, err
	}
	if len(v) != 4 {
		return p, fmt.Errorf("pads %v: want 4 values", v)
	}
	// ONNX order: top, left, bottom, right.
	for i := range p {
		if v[i] < 0 {
			return p, fmt.Errorf("pads %v: negative", v)
		}
		p[i] = int(v[i])
	}
	return p, nil
}
