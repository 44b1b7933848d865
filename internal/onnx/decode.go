package onnx

import (
	"fmt"
	"os"
	"path/filepath"

	onnxgo "github.com/owulveryck/onnx-go"
	"google.golang.org/protobuf/encoding/protowire"
	"gorgonia.org/tensor"
)

// Model is a decoded ONNX model: its description, its operations in file
// (topological) order and its initializers by name.
type Model struct {
	*Description
	Ops          []Op
	Initializers map[string]*Tensor
}

// ReadFile decodes a model file; external data files are read relative to
// its directory.
func ReadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(data, filepath.Dir(path))
}

// Decode decodes an ONNX model. dir is the directory external data files
// are read from, never leaving it; "" makes an external tensor an error.
// Errors about one node are *NodeError.
func Decode(data []byte, dir string) (m *Model, err error) {
	d, err := Describe(data)
	if err != nil {
		return nil, err
	}
	ext := &externalData{dir: dir}
	defer ext.close()
	stripped, inits, err := splitWeights(data, ext)
	if err != nil {
		return nil, err
	}
	b := newONNXBackend()
	om := onnxgo.NewModel(b)
	func() {
		// onnx-go and gorgonia's tensor package panic on some malformed
		// inputs; a bad model file must be an error, never a crash.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %v", ErrMalformed, r)
			}
		}()
		if e := om.UnmarshalBinary(stripped); e != nil {
			err = fmt.Errorf("%w: %w", ErrMalformed, e)
		}
	}()
	if err != nil {
		return nil, err
	}
	m = &Model{Description: d, Initializers: inits}
	if err := m.addGraphTensors(b); err != nil {
		return nil, err
	}
	for _, first := range b.ops {
		n := Node{OpType: first.op.Name, Name: first.name}
		if n.OpType != "Constant" {
			for _, in := range b.opInputs(first) {
				n.Inputs = append(n.Inputs, in.name)
			}
		}
		for _, o := range first.outputs {
			n.Outputs = append(n.Outputs, o.name)
		}
		op, err := NewOp(n, first.op.Attributes, d.Opset())
		if err != nil {
			return nil, err
		}
		m.Ops = append(m.Ops, op)
	}
	return m, nil
}

// addGraphTensors adds the initializers onnx-go decoded (the types
// decodeTensor leaves to it) to m.Initializers.
func (m *Model) addGraphTensors(b *onnxBackend) error {
	produced := map[int64]bool{}
	for _, first := range b.ops {
		for _, o := range first.outputs {
			produced[o.id] = true
		}
	}
	it := b.Nodes()
	for it.Next() {
		n, ok := it.Node().(*onnxNode)
		if !ok || produced[n.id] || n.tensor == nil || m.Initializers[n.name] != nil || m.isInput(n.name) {
			continue
		}
		t, err := fromGorgonia(n.name, n.tensor)
		if err != nil {
			return &NodeError{Node: n.name, Err: err}
		}
		m.Initializers[n.name] = t
	}
	return nil
}

func (m *Model) isInput(name string) bool {
	for _, in := range m.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

// splitWeights returns a copy of the ONNX model in which every initializer
// decodeTensor reads is replaced by a one-value placeholder, and those
// tensors. onnx-go still parses the whole graph (nodes, attributes,
// inputs); it just does not get the megabytes of weights, which it would
// copy several times, four bytes at a time, and read wrongly in some
// encodings. That halves ResNet-50's load time and peak memory.
func splitWeights(data []byte, ext *externalData) ([]byte, map[string]*Tensor, error) {
	weights := map[string]*Tensor{}
	out := make([]byte, 0, 1<<16)
	err := walk(data, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if num != 7 || typ != protowire.BytesType {
			out = appendField(out, num, typ, v, x)
			return nil
		}
		g, err := splitGraph(v, weights, ext)
		if err != nil {
			return err
		}
		out = protowire.AppendTag(out, 7, protowire.BytesType)
		out = protowire.AppendBytes(out, g)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, weights, nil
}

// placeholder is a TensorProto of dims [1], FLOAT, float_data [0], name.
func placeholder(name string) []byte {
	var ph []byte
	ph = protowire.AppendTag(ph, 1, protowire.VarintType)
	ph = protowire.AppendVarint(ph, 1)
	ph = protowire.AppendTag(ph, 2, protowire.VarintType)
	ph = protowire.AppendVarint(ph, typeFloat)
	ph = protowire.AppendTag(ph, 4, protowire.Fixed32Type)
	ph = protowire.AppendFixed32(ph, 0)
	ph = protowire.AppendTag(ph, 8, protowire.BytesType)
	return protowire.AppendString(ph, name)
}

func splitGraph(g []byte, weights map[string]*Tensor, ext *externalData) ([]byte, error) {
	var out []byte
	err := walk(g, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 5 && typ == protowire.BytesType: // initializer
			t, err := decodeTensor(v, ext)
			if err != nil {
				return err
			}
			if t == nil || t.Name == "" {
				out = appendField(out, num, typ, v, x)
				return nil
			}
			weights[t.Name] = t
			out = protowire.AppendTag(out, 5, protowire.BytesType)
			out = protowire.AppendBytes(out, placeholder(t.Name))
		case (num == 11 || num == 12) && typ == protowire.BytesType: // graph input, output
			// Only the name: the types and shapes were read by Describe,
			// and onnx-go would allocate a zero tensor of the declared
			// shape, however large (and IR-3 models list every
			// initializer as an input too).
			ti, err := valueInfo(v)
			if err != nil {
				return err
			}
			out = protowire.AppendTag(out, num, protowire.BytesType)
			out = protowire.AppendBytes(out, protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), ti.Name))
		case num == 13: // value_info: shapes of intermediate values, not needed
		default:
			out = appendField(out, num, typ, v, x)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fromGorgonia copies a tensor onnx-go decoded (a Constant's value).
func fromGorgonia(name string, t tensor.Tensor) (*Tensor, error) {
	c := &Tensor{Name: name, Shape: append([]int(nil), t.Shape()...)}
	switch d := t.Data().(type) {
	case []float32:
		c.Float = d // the decoded tensor is not used again: no copy
	case []float64:
		c.Float = make([]float32, len(d))
		for k, v := range d {
			c.Float[k] = float32(v)
		}
	case []int64:
		c.Int = d
	case []int32:
		c.Int = make([]int64, len(d))
		for k, v := range d {
			c.Int[k] = int64(v)
		}
	case float32:
		c.Float = []float32{d}
	case float64:
		c.Float = []float32{float32(d)}
	case int64:
		c.Int = []int64{d}
	case int32:
		c.Int = []int64{int64(d)}
	default:
		return nil, fmt.Errorf("unsupported tensor type %T", d)
	}
	n := 1
	for _, v := range c.Shape {
		n *= v
	}
	if n != c.Len() && !(len(c.Shape) == 0 && c.Len() == 1) {
		return nil, fmt.Errorf("tensor of shape %v holds %d values", c.Shape, c.Len())
	}
	return c, nil
}
