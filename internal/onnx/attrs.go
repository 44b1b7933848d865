package onnx

import (
	"errors"
	"fmt"
	"sort"

	"gorgonia.org/tensor"
)

// attrs reads a node's attributes as onnx-go decoded them (int64, float32,
// string, []int64, []float32, tensor.Tensor), remembering which it read so
// that any other is an error: the typed op could not carry it.
type attrs struct {
	m    map[string]any
	used map[string]bool
	err  error
}

func (a *attrs) get(name string) (any, bool) {
	a.used[name] = true
	v, ok := a.m[name]
	return v, ok
}

func (a *attrs) fail(name, want string, v any) {
	if a.err == nil {
		a.err = fmt.Errorf("attribute %s: want %s, got %T", name, want, v)
	}
}

// ignore marks attributes the engine may safely ignore at inference.
func (a *attrs) ignore(names ...string) {
	for _, n := range names {
		a.used[n] = true
	}
}

// value reads attribute name as a T; def when it is absent.
func value[T any](a *attrs, name, want string, def T) T {
	v, ok := a.get(name)
	if !ok {
		return def
	}
	x, ok := v.(T)
	if !ok {
		a.fail(name, want, v)
	}
	return x
}

// pointer reads attribute name as a T; nil when it is absent.
func pointer[T any](a *attrs, name, want string) *T {
	var zero T
	if _, ok := a.m[name]; !ok {
		a.used[name] = true
		return nil
	}
	x := value(a, name, want, zero)
	return &x
}

func (a *attrs) int(name string, def int64) int64       { return value(a, name, "an int", def) }
func (a *attrs) float(name string, def float32) float32 { return value(a, name, "a float", def) }
func (a *attrs) str(name, def string) string            { return value(a, name, "a string", def) }
func (a *attrs) ints(name string) []int64               { return value[[]int64](a, name, "ints", nil) }
func (a *attrs) intPtr(name string) *int64              { return pointer[int64](a, name, "an int") }
func (a *attrs) floatPtr(name string) *float32          { return pointer[float32](a, name, "a float") }

func (a *attrs) bool(name string, def bool) bool {
	d := int64(0)
	if def {
		d = 1
	}
	return a.int(name, d) != 0
}

// tensor reads a tensor attribute; nil when absent.
func (a *attrs) tensor(name string) *Tensor {
	v, ok := a.get(name)
	if !ok {
		return nil
	}
	t, ok := v.(tensor.Tensor)
	if !ok {
		a.fail(name, "a tensor", v)
		return nil
	}
	c, err := fromGorgonia(name, t)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return c
}

// unknown returns an error naming the first attribute not read, or the
// first type error.
func (a *attrs) unknown() error {
	if a.err != nil {
		return a.err
	}
	var names []string
	for n := range a.m {
		if !a.used[n] {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return fmt.Errorf("unsupported attribute %q", names[0])
}

// constantValue reads a Constant's value, whichever attribute holds it.
func constantValue(a *attrs) (*Tensor, error) {
	if t := a.tensor("value"); t != nil || a.err != nil {
		return t, a.err
	}
	if _, ok := a.m["value_float"]; ok {
		return &Tensor{Float: []float32{a.float("value_float", 0)}}, a.err
	}
	if _, ok := a.m["value_floats"]; ok {
		fs := value[[]float32](a, "value_floats", "floats", nil)
		return &Tensor{Shape: []int{len(fs)}, Float: append([]float32{}, fs...)}, a.err
	}
	if _, ok := a.m["value_int"]; ok {
		return &Tensor{Int: []int64{a.int("value_int", 0)}}, a.err
	}
	if _, ok := a.m["value_ints"]; ok {
		is := a.ints("value_ints")
		return &Tensor{Shape: []int{len(is)}, Int: append([]int64{}, is...)}, a.err
	}
	if a.unknown() != nil {
		return nil, a.unknown()
	}
	return nil, errors.New("Constant without a supported value")
}

// parsers builds the typed op of each operator this package reads.
var parsers = map[string]func(n Node, a *attrs, opset int64) (Op, error){
	"Conv": func(n Node, a *attrs, _ int64) (Op, error) {
		return &Conv{Node: n, KernelShape: a.ints("kernel_shape"), Strides: a.ints("strides"), Pads: a.ints("pads"),
			Dilations: a.ints("dilations"), Group: a.int("group", 1), AutoPad: a.str("auto_pad", "NOTSET")}, nil
	},
	"BatchNormalization": func(n Node, a *attrs, _ int64) (Op, error) {
		a.ignore("momentum", "is_test", "consumed_inputs")
		return &BatchNormalization{Node: n, Epsilon: a.float("epsilon", 1e-5), Spatial: a.int("spatial", 1),
			TrainingMode: a.int("training_mode", 0)}, nil
	},
	"MaxPool": func(n Node, a *attrs, _ int64) (Op, error) {
		a.ignore("storage_order")
		return &MaxPool{Node: n, KernelShape: a.ints("kernel_shape"), Strides: a.ints("strides"), Pads: a.ints("pads"),
			Dilations: a.ints("dilations"), CeilMode: a.bool("ceil_mode", false), AutoPad: a.str("auto_pad", "NOTSET")}, nil
	},
	"AveragePool": func(n Node, a *attrs, _ int64) (Op, error) {
		return &AveragePool{Node: n, KernelShape: a.ints("kernel_shape"), Strides: a.ints("strides"), Pads: a.ints("pads"),
			CeilMode: a.bool("ceil_mode", false), CountIncludePad: a.bool("count_include_pad", false),
			AutoPad: a.str("auto_pad", "NOTSET")}, nil
	},
	"Flatten": func(n Node, a *attrs, _ int64) (Op, error) { return &Flatten{Node: n, Axis: a.int("axis", 1)}, nil },
	"Reshape": func(n Node, a *attrs, _ int64) (Op, error) {
		return &Reshape{Node: n, AllowZero: a.bool("allowzero", false)}, nil
	},
	"Gemm": func(n Node, a *attrs, _ int64) (Op, error) {
		a.ignore("broadcast")
		return &Gemm{Node: n, Alpha: a.float("alpha", 1), Beta: a.float("beta", 1),
			TransA: a.bool("transA", false), TransB: a.bool("transB", false)}, nil
	},
	"Softmax": func(n Node, a *attrs, opset int64) (Op, error) {
		def := int64(-1)
		if opset > 0 && opset < 13 {
			def = 1
		}
		return &Softmax{Node: n, Axis: a.int("axis", def)}, nil
	},
	"Constant": func(n Node, a *attrs, _ int64) (Op, error) {
		v, err := constantValue(a)
		return &Constant{Node: n, Value: v}, err
	},
	"ConstantOfShape": func(n Node, a *attrs, _ int64) (Op, error) {
		return &ConstantOfShape{Node: n, Value: a.tensor("value")}, nil
	},
	"Shape": func(n Node, a *attrs, _ int64) (Op, error) {
		return &Shape{Node: n, Start: a.intPtr("start"), End: a.intPtr("end")}, nil
	},
	"Gather":    func(n Node, a *attrs, _ int64) (Op, error) { return &Gather{Node: n, Axis: a.int("axis", 0)}, nil },
	"Unsqueeze": func(n Node, a *attrs, _ int64) (Op, error) { return &Unsqueeze{Node: n, Axes: a.ints("axes")}, nil },
	"Squeeze":   func(n Node, a *attrs, _ int64) (Op, error) { return &Squeeze{Node: n, Axes: a.ints("axes")}, nil },
	"Concat":    func(n Node, a *attrs, _ int64) (Op, error) { return &Concat{Node: n, Axis: a.int("axis", 0)}, nil },
	"Cast": func(n Node, a *attrs, _ int64) (Op, error) {
		a.ignore("saturate")
		return &Cast{Node: n, To: a.int("to", 0)}, nil
	},
	"Clip": func(n Node, a *attrs, _ int64) (Op, error) {
		return &Clip{Node: n, Min: a.floatPtr("min"), Max: a.floatPtr("max")}, nil
	},
	"HardSigmoid": func(n Node, a *attrs, _ int64) (Op, error) {
		return &HardSigmoid{Node: n, Alpha: a.float("alpha", 0.2), Beta: a.float("beta", 0.5)}, nil
	},
	"Pad": func(n Node, a *attrs, _ int64) (Op, error) {
		return &Pad{Node: n, Mode: a.str("mode", "constant"), Pads: a.ints("pads"), Value: a.float("value", 0)}, nil
	},
	"Transpose": func(n Node, a *attrs, _ int64) (Op, error) { return &Transpose{Node: n, Perm: a.ints("perm")}, nil },
	"ReduceMean": func(n Node, a *attrs, _ int64) (Op, error) {
		return &ReduceMean{Node: n, Axes: a.ints("axes"), KeepDims: a.bool("keepdims", true)}, nil
	},
	"LayerNormalization": func(n Node, a *attrs, _ int64) (Op, error) {
		a.ignore("stash_type")
		return &LayerNormalization{Node: n, Axis: a.int("axis", -1), Epsilon: a.float("epsilon", 1e-5)}, nil
	},
	"Relu":              func(n Node, a *attrs, _ int64) (Op, error) { a.ignore("consumed_inputs"); return &Relu{n}, nil },
	"Add":               func(n Node, a *attrs, _ int64) (Op, error) { a.ignore("consumed_inputs"); return &Add{n}, nil },
	"Mul":               func(n Node, a *attrs, _ int64) (Op, error) { a.ignore("consumed_inputs"); return &Mul{n}, nil },
	"Sub":               func(n Node, _ *attrs, _ int64) (Op, error) { return &Sub{n}, nil },
	"Div":               func(n Node, _ *attrs, _ int64) (Op, error) { return &Div{n}, nil },
	"Pow":               func(n Node, _ *attrs, _ int64) (Op, error) { return &Pow{n}, nil },
	"GlobalAveragePool": func(n Node, _ *attrs, _ int64) (Op, error) { return &GlobalAveragePool{n}, nil },
	"MatMul":            func(n Node, _ *attrs, _ int64) (Op, error) { return &MatMul{n}, nil },
	"Identity":          func(n Node, _ *attrs, _ int64) (Op, error) { return &Identity{n}, nil },
	"Dropout": func(n Node, a *attrs, _ int64) (Op, error) {
		a.ignore("ratio", "seed", "is_test", "training_mode")
		return &Dropout{n}, nil
	},
	"Sigmoid":   func(n Node, _ *attrs, _ int64) (Op, error) { return &Sigmoid{n}, nil },
	"HardSwish": func(n Node, _ *attrs, _ int64) (Op, error) { return &HardSwish{n}, nil },
	"Erf":       func(n Node, _ *attrs, _ int64) (Op, error) { return &Erf{n}, nil },
	"Sqrt":      func(n Node, _ *attrs, _ int64) (Op, error) { return &Sqrt{n}, nil },
	"Equal":     func(n Node, _ *attrs, _ int64) (Op, error) { return &Equal{n}, nil },
	"Where":     func(n Node, _ *attrs, _ int64) (Op, error) { return &Where{n}, nil },
	"Expand":    func(n Node, _ *attrs, _ int64) (Op, error) { return &Expand{n}, nil },
	"Slice":     func(n Node, _ *attrs, _ int64) (Op, error) { return &Slice{n}, nil },
}

// Known reports whether this package reads the operator into its own type
// (anything else is an *Other).
func Known(op string) bool {
	_, ok := parsers[op]
	return ok
}

// Operators returns the operators this package reads into their own types,
// sorted.
func Operators() []string {
	names := make([]string, 0, len(parsers))
	for n := range parsers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewOp builds the typed op of node n from its attributes as onnx-go
// decodes them (int64, float32, string, []int64, []float32, tensor.Tensor)
// and the model's default-domain opset. An unknown operator is an *Other;
// an attribute the operator does not have is a *NodeError.
func NewOp(n Node, m map[string]any, opset int64) (Op, error) {
	parse, ok := parsers[n.OpType]
	if !ok {
		return &Other{n}, nil
	}
	a := &attrs{m: m, used: map[string]bool{}}
	op, err := parse(n, a, opset)
	if err == nil {
		err = a.unknown()
	}
	if err != nil {
		return nil, &NodeError{Node: n.Name, Op: n.OpType, Err: err}
	}
	return op, nil
}

// NodeError is an operation whose attributes cannot be read.
type NodeError struct {
	Node, Op string
	Err      error
}

func (e *NodeError) Error() string { return fmt.Sprintf("node %q (%s): %v", e.Node, e.Op, e.Err) }
func (e *NodeError) Unwrap() error { return e.Err }
