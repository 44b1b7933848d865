// Package onnx reads ONNX model files: the header and graph description
// straight from the protobuf wire format, the graph through onnx-go, and
// the tensors (raw_data, typed data packed or not, external data files)
// with its own decoder. It produces a plain list of typed operations for
// the engine to lower; it knows nothing of how they run.
package onnx

import (
	"fmt"
	"os"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// Description is what a model file holds, read without building the graph.
type Description struct {
	IRVersion  int64            `json:"ir_version"`
	Producer   string           `json:"producer,omitempty"`
	Opsets     map[string]int64 `json:"opsets"` // domain ("" is ai.onnx) -> version
	Graph      string           `json:"graph,omitempty"`
	Inputs     []TensorInfo     `json:"inputs"` // graph inputs that are not initializers
	Outputs    []TensorInfo     `json:"outputs"`
	Operators  map[string]int   `json:"operators"` // op type -> node count
	Nodes      int              `json:"nodes"`
	Parameters int64            `json:"parameters"` // values in the initializers
	Bytes      int64            `json:"bytes"`
}

// TensorInfo is a graph input or output: name, element type and dimensions
// (symbolic dimensions by name, such as "N").
type TensorInfo struct {
	Name  string   `json:"name"`
	Type  string   `json:"type"`
	Shape []string `json:"shape"`
	Dims  []int64  `json:"-"` // Shape as numbers, -1 where symbolic or unknown
}

// Opset returns the default-domain opset version.
func (d *Description) Opset() int64 { return d.Opsets[""] }

// OperatorNames returns the operator types, sorted.
func (d *Description) OperatorNames() []string {
	names := make([]string, 0, len(d.Operators))
	for n := range d.Operators {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Inspect describes an ONNX model file.
func Inspect(path string) (*Description, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inspect model: %w", err)
	}
	d, err := Describe(data)
	if err != nil {
		return nil, fmt.Errorf("inspect model %s: %w", path, err)
	}
	return d, nil
}

// Describe reads the model's header, graph inputs and outputs and counts its
// operators and parameters, straight from the protobuf wire format.
func Describe(data []byte) (*Description, error) {
	d := &Description{Opsets: map[string]int64{}, Operators: map[string]int{}, Bytes: int64(len(data))}
	var graph []byte
	err := walk(data, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			d.IRVersion = int64(x)
		case num == 2 && typ == protowire.BytesType:
			d.Producer = string(v)
		case num == 7 && typ == protowire.BytesType:
			graph = v
		case num == 8 && typ == protowire.BytesType:
			var domain string
			var version int64
			if err := walk(v, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
				if n == 1 && t == protowire.BytesType {
					domain = string(v)
				}
				if n == 2 && t == protowire.VarintType {
					version = int64(x)
				}
				return nil
			}); err != nil {
				return err
			}
			d.Opsets[domain] = version
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if graph == nil {
		return nil, fmt.Errorf("%w: no graph", ErrMalformed)
	}
	inits := map[string]bool{}
	var inputs []TensorInfo
	err = walk(graph, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1: // node
			return walk(v, func(n protowire.Number, t protowire.Type, v []byte, _ uint64) error {
				if n == 4 && t == protowire.BytesType {
					d.Operators[string(v)]++
					d.Nodes++
				}
				return nil
			})
		case 2:
			d.Graph = string(v)
		case 5: // initializer
			name, size, err := tensorSize(v)
			if err != nil {
				return err
			}
			inits[name] = true
			d.Parameters += size
		case 11, 12:
			ti, err := valueInfo(v)
			if err != nil {
				return err
			}
			if num == 11 {
				inputs = append(inputs, ti)
			} else {
				d.Outputs = append(d.Outputs, ti)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, in := range inputs {
		if !inits[in.Name] {
			d.Inputs = append(d.Inputs, in)
		}
	}
	if d.Nodes == 0 {
		return nil, fmt.Errorf("%w: the graph has no nodes", ErrMalformed)
	}
	return d, nil
}

// tensorSize returns a TensorProto's name and element count.
func tensorSize(b []byte) (string, int64, error) {
	var name string
	size := int64(1)
	err := walk(b, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
		switch {
		case n == 8 && t == protowire.BytesType:
			name = string(v)
		case n == 1 && t == protowire.VarintType:
			size *= int64(x)
		case n == 1 && t == protowire.BytesType: // packed dims
			return varints(v, func(d uint64) { size *= int64(d) })
		}
		return nil
	})
	return name, size, err
}

var elemTypes = map[uint64]string{1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}

// valueInfo reads a ValueInfoProto's name, element type and shape.
func valueInfo(b []byte) (TensorInfo, error) {
	var ti TensorInfo
	err := walk(b, func(n protowire.Number, t protowire.Type, v []byte, _ uint64) error {
		if t != protowire.BytesType {
			return nil
		}
		switch n {
		case 1:
			ti.Name = string(v)
		case 2: // TypeProto.tensor_type
			return walk(v, func(n protowire.Number, t protowire.Type, v []byte, _ uint64) error {
				if n != 1 || t != protowire.BytesType {
					return nil
				}
				return walk(v, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
					switch {
					case n == 1 && t == protowire.VarintType:
						ti.Type = elemTypes[x]
						if ti.Type == "" {
							ti.Type = fmt.Sprintf("type %d", x)
						}
					case n == 2 && t == protowire.BytesType: // shape
						return walk(v, func(n protowire.Number, t protowire.Type, v []byte, _ uint64) error {
							if n != 1 || t != protowire.BytesType {
								return nil
							}
							dim, size := "?", int64(-1)
							err := walk(v, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
								if n == 1 && t == protowire.VarintType {
									dim, size = fmt.Sprint(x), int64(x)
								}
								if n == 2 && t == protowire.BytesType {
									dim = string(v)
								}
								return nil
							})
							ti.Shape = append(ti.Shape, dim)
							ti.Dims = append(ti.Dims, size)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return ti, err
}
