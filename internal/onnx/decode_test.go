package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/onnx/onnxtest"
)

// convGraph is x [N,3,4,4] -> Conv(w, b; pads 1, group 1) -> Reshape(shape)
// -> Softmax -> y, every initializer stored as enc.
func convGraph(enc onnxtest.Encoding) onnxtest.Graph {
	w := make([]float64, 2*3*3*3)
	for i := range w {
		w[i] = float64(i%7) - 3
	}
	return onnxtest.Graph{
		Inputs:  []onnxtest.Value{{Name: "x", Dims: []int64{-1, 3, 4, 4}}},
		Outputs: []onnxtest.Value{{Name: "y", Dims: []int64{-1, 32}}},
		Initializers: []onnxtest.Tensor{
			{Name: "w", Type: onnxtest.Float, Dims: []int64{2, 3, 3, 3}, Floats: w, Enc: enc, Location: "w.bin"},
			{Name: "b", Type: onnxtest.Float, Dims: []int64{2}, Floats: []float64{0.5, -0.5}, Enc: enc, Location: "b.bin"},
			{Name: "shape", Type: onnxtest.Int64, Dims: []int64{2}, Ints: []int64{0, -1}, Enc: enc, Location: "shape.bin"},
		},
		Nodes: []onnxtest.Node{
			{Op: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}, Attrs: []onnxtest.Attr{
				{Name: "pads", Ints: []int64{1, 1, 1, 1}}, {Name: "kernel_shape", Ints: []int64{3, 3}}, {Name: "group", Int: onnxtest.Int(1)}}},
			{Op: "Reshape", Inputs: []string{"c", "shape"}, Outputs: []string{"r"}},
			{Op: "Softmax", Inputs: []string{"r"}, Outputs: []string{"y"}},
		},
	}
}

func convModel(enc onnxtest.Encoding) []byte { return onnxtest.Model(11, convGraph(enc)) }

// writeExternal writes the external data files of g's initializers to dir.
func writeExternal(t *testing.T, dir string, g onnxtest.Graph) {
	t.Helper()
	for _, in := range g.Initializers {
		if in.Enc == onnxtest.External {
			if err := os.WriteFile(filepath.Join(dir, in.Location), in.RawBytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestDecodeModel(t *testing.T) {
	var first *Model
	for _, enc := range []onnxtest.Encoding{onnxtest.Raw, onnxtest.Packed, onnxtest.Unpacked, onnxtest.External} {
		t.Run(enc.String(), func(t *testing.T) {
			dir := t.TempDir()
			g := convGraph(enc)
			writeExternal(t, dir, g)
			path := filepath.Join(dir, "m.onnx")
			if err := os.WriteFile(path, onnxtest.Model(11, g), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if m.Opset() != 11 || len(m.Inputs) != 1 || !reflect.DeepEqual(m.Inputs[0].Dims, []int64{-1, 3, 4, 4}) {
				t.Errorf("opset %d, inputs %+v", m.Opset(), m.Inputs)
			}
			if len(m.Ops) != 3 {
				t.Fatalf("%d ops", len(m.Ops))
			}
			conv, ok := m.Ops[0].(*Conv)
			if !ok || !reflect.DeepEqual(conv.Pads, []int64{1, 1, 1, 1}) || conv.Group != 1 || conv.AutoPad != "NOTSET" ||
				conv.Strides != nil || !reflect.DeepEqual(conv.Inputs, []string{"x", "w", "b"}) || conv.Outputs[0] != "c" {
				t.Errorf("conv %+v", m.Ops[0])
			}
			// Opset 11: Softmax's axis defaults to 1.
			if sm, ok := m.Ops[2].(*Softmax); !ok || sm.Axis != 1 {
				t.Errorf("softmax %+v", m.Ops[2])
			}
			if s := m.Initializers["shape"]; s == nil || !reflect.DeepEqual(s.Int, []int64{0, -1}) {
				t.Errorf("shape %+v", s)
			}
			if w := m.Initializers["w"]; w == nil || len(w.Float) != 54 || w.Float[1] != -2 || !reflect.DeepEqual(w.Shape, []int{2, 3, 3, 3}) {
				t.Errorf("w %+v", w)
			}
			if first == nil {
				first = m
			} else if !reflect.DeepEqual(m.Initializers, first.Initializers) {
				t.Errorf("initializers differ from raw_data's")
			}
		})
	}
	t.Run("external without a directory", func(t *testing.T) {
		_, err := Decode(convModel(onnxtest.External), "")
		if !errors.Is(err, ErrExternalData) || !strings.Contains(err.Error(), `"w"`) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestDecodeAttributes(t *testing.T) {
	g := convGraph(onnxtest.Raw)
	g.Nodes[0].Attrs = append(g.Nodes[0].Attrs, onnxtest.Attr{Name: "dilation", Ints: []int64{1, 1}})
	_, err := Decode(onnxtest.Model(13, g), "")
	var ne *NodeError
	if !errors.As(err, &ne) || ne.Op != "Conv" || ne.Node != "c" || !strings.Contains(err.Error(), `unsupported attribute "dilation"`) {
		t.Errorf("err = %v", err)
	}
	g = convGraph(onnxtest.Raw)
	g.Nodes[0].Attrs[2] = onnxtest.Attr{Name: "group", S: "two"}
	if _, err := Decode(onnxtest.Model(13, g), ""); !errors.As(err, &ne) || !strings.Contains(err.Error(), "attribute group: want an int") {
		t.Errorf("err = %v", err)
	}
	g = convGraph(onnxtest.Raw)
	g.Nodes[2].Op = "Softmaxx"
	m, err := Decode(onnxtest.Model(13, g), "")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := m.Ops[2].(*Other); !ok || o.OpType != "Softmaxx" {
		t.Errorf("unknown operator read as %+v", m.Ops[2])
	}
	g.Nodes[2].Op = "Softmax"
	if m, err = Decode(onnxtest.Model(13, g), ""); err != nil || m.Ops[2].(*Softmax).Axis != -1 {
		t.Errorf("opset 13 softmax: %v %+v", err, m)
	}
}

// TestDecodeDeclaredShapes checks that declared shapes are not trusted: a
// graph input of [N,3,40000,40000] once made onnx-go allocate a zero tensor
// of 19 GB.
func TestDecodeDeclaredShapes(t *testing.T) {
	g := convGraph(onnxtest.Raw)
	g.Inputs[0].Dims = []int64{-1, 3, 40000, 40000}
	g.Outputs[0].Dims = []int64{40000, 40000}
	data := onnxtest.Model(11, g)
	var m *Model
	var err error
	if n := allocated(func() { m, err = Decode(data, "") }); n > 16<<20 {
		t.Errorf("Decode allocated %d bytes for a %d-byte model", n, len(data))
	}
	if err != nil || !reflect.DeepEqual(m.Inputs[0].Dims, []int64{-1, 3, 40000, 40000}) {
		t.Errorf("err %v, inputs %+v", err, m.Inputs)
	}
}
