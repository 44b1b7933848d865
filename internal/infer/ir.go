package infer

import (
	"errors"
	"fmt"
	"math"

	onnx "github.com/owulveryck/onnx-go"
	"gorgonia.org/tensor"
)

// constant is a constant tensor of the model: an initializer, a Constant
// node's value, or a shape computed at plan time.
type constant struct {
	shape []int
	f     []float32 // float data, or nil
	i     []int64   // integer data, or nil
}

func (c *constant) size() int {
	if c.f != nil {
		return len(c.f)
	}
	return len(c.i)
}

// ints returns integer data, converting whole floats.
func (c *constant) ints() []int64 {
	if c.i != nil {
		return c.i
	}
	out := make([]int64, len(c.f))
	for k, v := range c.f {
		out[k] = int64(v)
	}
	return out
}

// floats returns float data, converting integers.
func (c *constant) floats() []float32 {
	if c.f != nil {
		return c.f
	}
	out := make([]float32, len(c.i))
	for k, v := range c.i {
		out[k] = float32(v)
	}
	return out
}

// irOp is one ONNX operation, named after its first output.
type irOp struct {
	typ   string
	name  string
	attrs map[string]any
	in    []string
	out   []string
}

// model is the decoded ONNX graph.
type model struct {
	ops        []*irOp
	consts     map[string]*constant
	input      string
	inputShape []int // declared dims without the batch dimension
	output     string
	params     int64
}

// LoadError is a model that cannot be loaded: corrupt, or using an operator
// or attribute the engine does not implement. Node names the node.
type LoadError struct {
	Node string
	Op   string
	Err  error
}

func (e *LoadError) Error() string {
	switch {
	case e.Node != "" && e.Op != "":
		return fmt.Sprintf("model node %q (%s): %v", e.Node, e.Op, e.Err)
	case e.Node != "":
		return fmt.Sprintf("model node %q: %v", e.Node, e.Err)
	}
	return fmt.Sprintf("model: %v", e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// decodeModel parses ONNX bytes with onnx-go into a model.
func decodeModel(data []byte) (m *model, err error) {
	if len(data) == 0 {
		return nil, &LoadError{Err: errors.New("empty model file")}
	}
	stripped, weights, err := splitWeights(data)
	if err != nil {
		return nil, &LoadError{Err: err}
	}
	b := newONNXBackend()
	om := onnx.NewModel(b)
	func() {
		// onnx-go and gorgonia's tensor package panic on some malformed
		// inputs; a bad model file must be an error, never a crash.
		defer func() {
			if r := recover(); r != nil {
				err = &LoadError{Err: fmt.Errorf("malformed ONNX model: %v", r)}
			}
		}()
		if e := om.UnmarshalBinary(stripped); e != nil {
			err = &LoadError{Err: fmt.Errorf("malformed ONNX model: %w", e)}
		}
	}()
	if err != nil {
		return nil, err
	}
	m = &model{consts: map[string]*constant{}}
	nodeByID := func(id int64) (*onnxNode, error) {
		n, ok := b.Node(id).(*onnxNode)
		if !ok {
			return nil, &LoadError{Err: fmt.Errorf("graph value %d not found", id)}
		}
		return n, nil
	}
	produced := map[int64]bool{}
	for _, first := range b.ops {
		for _, o := range first.outputs {
			produced[o.id] = true
		}
	}
	inputs := map[int64]bool{}
	for _, id := range om.Input {
		inputs[id] = true
	}
	it := b.Nodes()
	for it.Next() {
		n, ok := it.Node().(*onnxNode)
		if !ok || inputs[n.id] || produced[n.id] {
			continue
		}
		c, ok := weights[n.name]
		if !ok {
			if n.tensor == nil {
				continue
			}
			var err error
			if c, err = toConstant(n.tensor); err != nil {
				return nil, &LoadError{Node: n.name, Err: err}
			}
		}
		m.consts[n.name] = c
		if c.f != nil {
			m.params += int64(len(c.f))
		}
	}
	if len(om.Input) != 1 {
		return nil, &LoadError{Err: fmt.Errorf("want one graph input besides the weights, found %d", len(om.Input))}
	}
	in, err := nodeByID(om.Input[0])
	if err != nil {
		return nil, err
	}
	m.input = in.name
	if in.tensor != nil {
		if s := in.tensor.Shape(); len(s) >= 3 {
			m.inputShape = append([]int(nil), s[len(s)-3:]...)
		}
	}
	if len(m.inputShape) != 3 {
		return nil, &LoadError{Node: in.name, Err: errors.New("graph input is not an image batch [N,C,H,W] with known C, H and W")}
	}
	if len(om.Output) < 1 {
		return nil, &LoadError{Err: errors.New("graph has no output")}
	}
	out, err := nodeByID(om.Output[0])
	if err != nil {
		return nil, err
	}
	m.output = out.name
	for _, first := range b.ops {
		op := &irOp{typ: first.op.Name, name: first.name, attrs: first.op.Attributes}
		if op.typ != "Constant" {
			for _, in := range b.opInputs(first) {
				op.in = append(op.in, in.name)
			}
		}
		for _, o := range first.outputs {
			op.out = append(op.out, o.name)
		}
		m.ops = append(m.ops, op)
	}
	return m, nil
}

// toConstant copies a decoded tensor into a constant.
func toConstant(t tensor.Tensor) (*constant, error) {
	c := &constant{shape: append([]int(nil), t.Shape()...)}
	switch d := t.Data().(type) {
	case []float32:
		c.f = d // the decoded tensor is not used again: no copy
	case []float64:
		c.f = make([]float32, len(d))
		for k, v := range d {
			c.f[k] = float32(v)
		}
	case []int64:
		c.i = d
	case []int32:
		c.i = make([]int64, len(d))
		for k, v := range d {
			c.i[k] = int64(v)
		}
	case float32:
		c.f = []float32{d}
	case float64:
		c.f = []float32{float32(d)}
	case int64:
		c.i = []int64{d}
	case int32:
		c.i = []int64{int64(d)}
	default:
		return nil, fmt.Errorf("unsupported tensor type %T", d)
	}
	if want := prod(c.shape); want != c.size() && !(len(c.shape) == 0 && c.size() == 1) {
		return nil, fmt.Errorf("tensor of shape %v holds %d values", c.shape, c.size())
	}
	for _, v := range c.f {
		if math.IsNaN(float64(v)) {
			return nil, errors.New("tensor holds NaN")
		}
	}
	return c, nil
}

func prod(s []int) int {
	p := 1
	for _, v := range s {
		p *= v
	}
	return p
}
