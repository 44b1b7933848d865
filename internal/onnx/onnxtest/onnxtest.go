// Package onnxtest writes small ONNX models for tests: a protobuf encoder
// written against onnx.proto's field numbers, independent of the reader in
// internal/onnx, that stores tensors in whichever encoding a test asks for.
package onnxtest

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Element types (TensorProto.DataType).
const (
	Float  = 1
	Uint8  = 2
	Int8   = 3
	Int16  = 5
	Int32  = 6
	Int64  = 7
	Bool   = 9
	Double = 11
	Uint64 = 13
)

// Encoding is where a tensor's values are stored.
type Encoding int

const (
	Raw      Encoding = iota // raw_data, little-endian
	Packed                   // the typed field (float_data, int64_data, ...), packed
	Unpacked                 // the typed field, one protobuf field per value
	External                 // an external data file: Tensor.Location, Offset
)

func (e Encoding) String() string {
	return [...]string{"raw_data", "packed", "unpacked", "external"}[e]
}

// Tensor is a TensorProto to write. Values are Floats for Float and Double,
// Ints for the others.
type Tensor struct {
	Name   string
	Type   int
	Dims   []int64
	Floats []float64
	Ints   []int64
	Enc    Encoding
	// External: the file (relative to the model; "" means "weights.bin"),
	// the offset and the length written (0: the true length, -1: none).
	Location string
	Offset   int64
	Length   int64
}

// width is the raw size of one value.
func width(typ int) int {
	switch typ {
	case Uint8, Int8, Bool:
		return 1
	case Int16:
		return 2
	case Float, Int32:
		return 4
	}
	return 8
}

// RawBytes is the little-endian encoding of t's values (raw_data and
// external files).
func (t *Tensor) RawBytes() []byte {
	var b []byte
	le := binary.LittleEndian
	switch t.Type {
	case Float:
		for _, f := range t.Floats {
			b = le.AppendUint32(b, math.Float32bits(float32(f)))
		}
	case Double:
		for _, f := range t.Floats {
			b = le.AppendUint64(b, math.Float64bits(f))
		}
	default:
		for _, v := range t.Ints {
			switch width(t.Type) {
			case 1:
				b = append(b, byte(v))
			case 2:
				b = le.AppendUint16(b, uint16(v))
			case 4:
				b = le.AppendUint32(b, uint32(v))
			default:
				b = le.AppendUint64(b, uint64(v))
			}
		}
	}
	return b
}

// field is the typed data field of t's type and whether it is fixed-width.
func (t *Tensor) field() (protowire.Number, bool) {
	switch t.Type {
	case Float:
		return 4, true
	case Double:
		return 10, true
	case Int64:
		return 7, false
	case Uint64:
		return 11, false
	}
	return 5, false // int32_data: int32, int16, int8, uint8, bool
}

// Encode writes t as a TensorProto (dims 1, data_type 2, float_data 4,
// int32_data 5, int64_data 7, name 8, raw_data 9, double_data 10,
// uint64_data 11, external_data 13, data_location 14).
func (t *Tensor) Encode() []byte {
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), uint64(d))
	}
	b = protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), uint64(t.Type))
	b = appendString(b, 8, t.Name)
	switch t.Enc {
	case Raw:
		b = protowire.AppendBytes(protowire.AppendTag(b, 9, protowire.BytesType), t.RawBytes())
	case Packed, Unpacked:
		b = t.appendTyped(b)
	case External:
		loc := t.Location
		if loc == "" {
			loc = "weights.bin"
		}
		b = appendEntry(b, "location", loc)
		b = appendEntry(b, "offset", fmt.Sprint(t.Offset))
		length := t.Length
		if length == 0 {
			length = int64(len(t.RawBytes()))
		}
		if length >= 0 {
			b = appendEntry(b, "length", fmt.Sprint(length))
		}
		b = protowire.AppendVarint(protowire.AppendTag(b, 14, protowire.VarintType), 1)
	}
	return b
}

func (t *Tensor) appendTyped(b []byte) []byte {
	num, fixed := t.field()
	n := len(t.Ints)
	if t.Type == Float || t.Type == Double {
		n = len(t.Floats)
	}
	var packed []byte
	for i := 0; i < n; i++ {
		var one []byte
		switch {
		case t.Type == Float:
			one = protowire.AppendFixed32(nil, math.Float32bits(float32(t.Floats[i])))
		case t.Type == Double:
			one = protowire.AppendFixed64(nil, math.Float64bits(t.Floats[i]))
		default:
			one = protowire.AppendVarint(nil, uint64(t.Ints[i])) // int32 negatives: sign-extended
		}
		if t.Enc == Packed {
			packed = append(packed, one...)
			continue
		}
		typ := protowire.VarintType
		if fixed && t.Type == Float {
			typ = protowire.Fixed32Type
		} else if fixed {
			typ = protowire.Fixed64Type
		}
		b = append(protowire.AppendTag(b, num, typ), one...)
	}
	if t.Enc == Packed {
		b = protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), packed)
	}
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), m)
}

// appendEntry writes an external_data StringStringEntryProto (key 1, value 2).
func appendEntry(b []byte, key, value string) []byte {
	return appendMessage(b, 13, appendString(appendString(nil, 1, key), 2, value))
}

// Attr is a node attribute: exactly one of the values is set.
type Attr struct {
	Name string
	Int  *int64
	Ints []int64
	F    *float32
	S    string
}

// Node is a NodeProto.
type Node struct {
	Op      string
	Inputs  []string
	Outputs []string
	Attrs   []Attr
}

// encode writes a NodeProto (input 1, output 2, name 3, op_type 4,
// attribute 5; AttributeProto name 1, f 2, i 3, s 4, ints 8, type 20).
func (n *Node) encode() []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = appendString(b, 1, in)
	}
	for _, out := range n.Outputs {
		b = appendString(b, 2, out)
	}
	b = appendString(b, 3, n.Outputs[0])
	b = appendString(b, 4, n.Op)
	for _, a := range n.Attrs {
		ab := appendString(nil, 1, a.Name)
		var typ uint64
		switch {
		case a.Int != nil:
			ab, typ = protowire.AppendVarint(protowire.AppendTag(ab, 3, protowire.VarintType), uint64(*a.Int)), 2
		case a.F != nil:
			ab, typ = protowire.AppendFixed32(protowire.AppendTag(ab, 2, protowire.Fixed32Type), math.Float32bits(*a.F)), 1
		case a.Ints != nil:
			for _, v := range a.Ints {
				ab = protowire.AppendVarint(protowire.AppendTag(ab, 8, protowire.VarintType), uint64(v))
			}
			typ = 7
		default:
			ab, typ = appendString(ab, 4, a.S), 3
		}
		ab = protowire.AppendVarint(protowire.AppendTag(ab, 20, protowire.VarintType), typ)
		b = appendMessage(b, 5, ab)
	}
	return b
}

// Value is a graph input or output: a float tensor of these dims (-1: the
// symbolic "N").
type Value struct {
	Name string
	Dims []int64
}

func (v *Value) encode() []byte {
	var shape []byte
	for _, d := range v.Dims {
		var dim []byte
		if d < 0 {
			dim = appendString(nil, 2, "N")
		} else {
			dim = protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(d))
		}
		shape = appendMessage(shape, 1, dim)
	}
	tt := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), Float)
	tt = appendMessage(tt, 2, shape)
	return appendMessage(appendString(nil, 1, v.Name), 2, appendMessage(nil, 1, tt))
}

// Graph is a model's graph.
type Graph struct {
	Nodes        []Node
	Initializers []Tensor
	Inputs       []Value
	Outputs      []Value
}

// Model writes a ModelProto (ir_version 1, producer_name 2, graph 7,
// opset_import 8) of g at the given default-domain opset; GraphProto: node
// 1, name 2, initializer 5, input 11, output 12.
func Model(opset int64, g Graph) []byte {
	var gb []byte
	for _, n := range g.Nodes {
		gb = appendMessage(gb, 1, n.encode())
	}
	gb = appendString(gb, 2, "onnxtest")
	for _, t := range g.Initializers {
		gb = appendMessage(gb, 5, t.Encode())
	}
	for _, v := range g.Inputs {
		gb = appendMessage(gb, 11, v.encode())
	}
	for _, v := range g.Outputs {
		gb = appendMessage(gb, 12, v.encode())
	}
	var b []byte
	b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 8)
	b = appendString(b, 2, "onnxtest")
	b = appendMessage(b, 7, gb)
	opsetID := protowire.AppendVarint(protowire.AppendTag(appendString(nil, 1, ""), 2, protowire.VarintType), uint64(opset))
	return appendMessage(b, 8, opsetID)
}

// Int returns a pointer to v, for Attr.Int.
func Int(v int64) *int64 { return &v }
