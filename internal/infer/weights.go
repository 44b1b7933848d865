package infer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// minDirect is the size from which a float initializer is read straight from
// the file instead of through onnx-go.
const minDirect = 1024

// splitWeights returns a copy of the ONNX model in which every large float
// initializer is replaced by a one-value placeholder, and those weights
// decoded straight from the wire format. onnx-go still parses the whole graph
// (nodes, attributes, inputs, small constants); it just does not get the
// megabytes of weights, which it would copy several times, four bytes at a
// time. That halves ResNet-50's load time and peak memory.
func splitWeights(data []byte) ([]byte, map[string]*constant, error) {
	weights := map[string]*constant{}
	out := make([]byte, 0, 1<<16)
	err := walk(data, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		if num != 7 || typ != protowire.BytesType {
			out = appendField(out, num, typ, v, x)
			return nil
		}
		g, err := splitGraph(v, weights)
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

// appendField re-encodes one field as walk decoded it.
func appendField(out []byte, num protowire.Number, typ protowire.Type, v []byte, x uint64) []byte {
	out = protowire.AppendTag(out, num, typ)
	switch typ {
	case protowire.VarintType:
		return protowire.AppendVarint(out, x)
	case protowire.BytesType:
		return protowire.AppendBytes(out, v)
	}
	return append(out, v...) // fixed32, fixed64, group: the raw bytes walk passed

}

func splitGraph(g []byte, weights map[string]*constant) ([]byte, error) {
	var out []byte
	var inputs [][]byte
	err := walk(g, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 5 && typ == protowire.BytesType: // initializer
			name, c, err := decodeFloatTensor(v)
			if err != nil {
				return err
			}
			if c == nil {
				out = appendField(out, num, typ, v, x)
				return nil
			}
			weights[name] = c
			var ph []byte // placeholder: dims [1], FLOAT, float_data [0]
			ph = protowire.AppendTag(ph, 1, protowire.VarintType)
			ph = protowire.AppendVarint(ph, 1)
			ph = protowire.AppendTag(ph, 2, protowire.VarintType)
			ph = protowire.AppendVarint(ph, 1)
			ph = protowire.AppendTag(ph, 4, protowire.Fixed32Type)
			ph = protowire.AppendFixed32(ph, 0)
			ph = protowire.AppendTag(ph, 8, protowire.BytesType)
			ph = protowire.AppendString(ph, name)
			out = protowire.AppendTag(out, 5, protowire.BytesType)
			out = protowire.AppendBytes(out, ph)
		case num == 11 && typ == protowire.BytesType: // graph input: decided below
			inputs = append(inputs, v)
		default:
			out = appendField(out, num, typ, v, x)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// IR-3 models also list every initializer as a graph input, with its
	// type and shape; onnx-go would allocate a zero tensor of that shape.
	// Those inputs keep only their name.
	for _, in := range inputs {
		ti, err := valueInfo(in)
		if err != nil {
			return nil, err
		}
		if _, ok := weights[ti.Name]; ok {
			in = protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), ti.Name)
		}
		out = protowire.AppendTag(out, 11, protowire.BytesType)
		out = protowire.AppendBytes(out, in)
	}
	return out, nil
}

// errExternalData is returned for initializers whose values live in a file
// beside the model (ONNX external data).
var errExternalData = errors.New("weights stored in an external data file are not supported: save the model with its weights inside it (onnx.save_model(m, path, save_as_external_data=False))")

// decodeFloatTensor decodes a TensorProto holding at least minDirect float32
// values, from raw_data or float_data (packed or not); for anything else it
// returns a nil constant. Tensors of any type kept in external data files are
// an error.
func decodeFloatTensor(b []byte) (string, *constant, error) {
	var name string
	var dims []int
	var dtype uint64
	var raw []byte
	var floats []float32
	external, segment := false, false
	err := walk(b, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
		switch {
		case n == 1 && t == protowire.VarintType:
			dims = append(dims, int(x))
		case n == 1 && t == protowire.BytesType:
			for len(v) > 0 {
				d, k := protowire.ConsumeVarint(v)
				if k < 0 {
					return fmt.Errorf("%w: tensor dims", errMalformed)
				}
				dims = append(dims, int(d))
				v = v[k:]
			}
		case n == 2 && t == protowire.VarintType:
			dtype = x
		case n == 4 && t == protowire.BytesType: // packed float_data
			for ; len(v) >= 4; v = v[4:] {
				floats = append(floats, math.Float32frombits(binary.LittleEndian.Uint32(v)))
			}
		case n == 4 && t == protowire.Fixed32Type:
			floats = append(floats, math.Float32frombits(uint32(x)))
		case n == 8 && t == protowire.BytesType:
			name = string(v)
		case n == 9 && t == protowire.BytesType:
			raw = v
		case n == 3: // segment: one piece of a tensor split across several
			segment = true
		case n == 13: // external_data
			external = true
		case n == 14 && t == protowire.VarintType && x == 1: // data_location EXTERNAL
			external = true
		}
		return nil
	})
	switch {
	case err != nil:
		return "", nil, err
	case external:
		return "", nil, fmt.Errorf("tensor %q: %w", name, errExternalData)
	case segment:
		return "", nil, fmt.Errorf("%w: tensor %q is stored in segments, which ONNX models do not use", errMalformed, name)
	case dtype != 1 || name == "":
		return "", nil, nil
	}
	size := 1
	for _, d := range dims {
		if d < 0 || d > math.MaxInt32 {
			return "", nil, fmt.Errorf("%w: tensor %q has dimension %d", errMalformed, name, d)
		}
		size *= d
		if size > math.MaxInt32 {
			return "", nil, fmt.Errorf("%w: tensor %q is too large", errMalformed, name)
		}
	}
	if size < minDirect {
		return "", nil, nil
	}
	c := &constant{shape: dims}
	switch {
	case raw != nil:
		if len(raw) != 4*size {
			return "", nil, fmt.Errorf("%w: tensor %q of shape %v has %d bytes", errMalformed, name, dims, len(raw))
		}
		c.f = make([]float32, size)
		for i := range c.f {
			c.f[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case len(floats) == size:
		c.f = floats
	default:
		return "", nil, fmt.Errorf("%w: tensor %q of shape %v has %d values", errMalformed, name, dims, len(floats))
	}
	return name, c, nil
}
