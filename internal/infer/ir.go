package infer

import (
	"errors"
	"fmt"
	"math"

	"github.com/mlserve/mlserve/internal/onnx"
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

// model is the decoded ONNX graph, as the engine reads it.
type model struct {
	ops        []onnx.Op
	consts     map[string]*constant
	input      string
	inputShape []int // declared dims without the batch dimension
	output     string
	params     int64
	opset      int64
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

// decodeModel decodes ONNX bytes with internal/onnx; dir is where external
// data files are ("" when the model was not read from a file).
func decodeModel(data []byte, dir string) (*model, error) {
	if len(data) == 0 {
		return nil, &LoadError{Err: errors.New("empty model file")}
	}
	om, err := onnx.Decode(data, dir)
	if err != nil {
		var ne *onnx.NodeError
		if errors.As(err, &ne) {
			return nil, &LoadError{Node: ne.Node, Op: ne.Op, Err: ne.Err}
		}
		return nil, &LoadError{Err: err}
	}
	m := &model{ops: om.Ops, consts: map[string]*constant{}, opset: om.Opset()}
	for name, t := range om.Initializers {
		c, err := toConstant(t)
		if err != nil {
			return nil, &LoadError{Node: name, Err: err}
		}
		m.consts[name] = c
		m.params += int64(len(c.f))
	}
	if len(om.Inputs) != 1 {
		return nil, &LoadError{Err: fmt.Errorf("want one graph input besides the weights, found %d", len(om.Inputs))}
	}
	in := om.Inputs[0]
	m.input = in.Name
	if d := in.Dims; len(d) >= 3 && d[len(d)-3] > 0 && d[len(d)-2] > 0 && d[len(d)-1] > 0 {
		for _, v := range d[len(d)-3:] {
			m.inputShape = append(m.inputShape, int(v))
		}
	}
	if len(m.inputShape) != 3 {
		return nil, &LoadError{Node: in.Name, Err: errors.New("graph input is not an image batch [N,C,H,W] with known C, H and W")}
	}
	if len(om.Outputs) < 1 {
		return nil, &LoadError{Err: errors.New("graph has no output")}
	}
	m.output = om.Outputs[0].Name
	return m, nil
}

// toConstant takes a decoded tensor as a constant (no copy).
func toConstant(t *onnx.Tensor) (*constant, error) {
	if t == nil {
		return nil, errors.New("no value")
	}
	c := &constant{shape: t.Shape, f: t.Float, i: t.Int}
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
