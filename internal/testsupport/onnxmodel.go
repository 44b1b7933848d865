package testsupport

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file writes ONNX models node by node, from the field numbers of
// onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto, ValueInfoProto), independently of mlserve's loader: models
// for tests that check one operator attribute against an independent
// reference (a few lines of arithmetic in internal/infer, ONNX Runtime in
// bench/ort/oracle).

// Attr is one node attribute: an int, a float or a list of ints.
type Attr struct {
	name string
	kind int // AttributeProto.AttributeType: 1 FLOAT, 2 INT, 7 INTS
	f    float32
	i    int64
	ints []int64
}

// AInt, AFloat and AInts are attributes of each kind.
func AInt(name string, v int64) Attr     { return Attr{name: name, kind: 2, i: v} }
func AFloat(name string, v float32) Attr { return Attr{name: name, kind: 1, f: v} }
func AInts(name string, v ...int64) Attr { return Attr{name: name, kind: 7, ints: v} }

// NewNode is a node of type op.
func NewNode(op string, in, out []string, attrs ...Attr) Node {
	return Node{op: op, in: in, out: out, attrs: attrs}
}

// Node is one graph node.
type Node struct {
	op      string
	in, out []string
	attrs   []Attr
}

// Tensor is a float initializer.
type Tensor struct {
	Name string
	Dims []int64
	Data []float32
}

// Model is a one-input, one-output graph: input "data" [N,3,size,size]
// (N symbolic), output "out".
type Model struct {
	Opset int64
	Size  int64
	Nodes []Node
	Inits []Tensor
}

func str(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func msg(b []byte, num protowire.Number, m []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), m)
}

func varint(b []byte, num protowire.Number, v int64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), uint64(v))
}

func (a Attr) encode() []byte {
	b := str(nil, 1, a.name)
	switch a.kind {
	case 1:
		b = protowire.AppendFixed32(protowire.AppendTag(b, 2, protowire.Fixed32Type), math.Float32bits(a.f))
	case 2:
		b = varint(b, 3, a.i)
	case 7:
		for _, v := range a.ints {
			b = varint(b, 8, v)
		}
	}
	return varint(b, 20, int64(a.kind))
}

func (n Node) encode(i int) []byte {
	var b []byte
	for _, s := range n.in {
		b = str(b, 1, s)
	}
	for _, s := range n.out {
		b = str(b, 2, s)
	}
	b = str(b, 3, n.op+"_"+string(rune('a'+i)))
	b = str(b, 4, n.op)
	for _, a := range n.attrs {
		b = msg(b, 5, a.encode())
	}
	return b
}

func (t Tensor) encode() []byte {
	var b []byte
	for _, d := range t.Dims {
		b = varint(b, 1, d)
	}
	b = varint(b, 2, 1) // FLOAT
	b = str(b, 8, t.Name)
	raw := make([]byte, 0, 4*len(t.Data))
	for _, v := range t.Data {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	return msg(b, 9, raw)
}

// valueInfo is a float tensor's name and type; dims < 0 are symbolic ("N").
func valueInfo(name string, dims []int64) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		if d < 0 {
			dim = str(nil, 2, "N")
		} else {
			dim = varint(nil, 1, d)
		}
		shape = msg(shape, 1, dim)
	}
	tt := varint(nil, 1, 1) // elem_type FLOAT
	if dims != nil {
		tt = msg(tt, 2, shape)
	}
	return msg(str(nil, 1, name), 2, msg(nil, 1, tt))
}

// Encode returns the ONNX file.
func (m Model) Encode() []byte {
	g := str(nil, 2, "oracle")
	for i, n := range m.Nodes {
		g = msg(g, 1, n.encode(i))
	}
	for _, t := range m.Inits {
		g = msg(g, 5, t.encode())
	}
	g = msg(g, 11, valueInfo("data", []int64{-1, 3, m.Size, m.Size}))
	g = msg(g, 12, valueInfo("out", nil))
	b := varint(nil, 1, 7) // IR version 7 (opsets up to 14)
	if m.Opset > 14 {
		b = varint(nil, 1, 8)
	}
	b = str(b, 2, "mlserve-oracle-test")
	b = msg(b, 7, g)
	return msg(b, 8, varint(str(nil, 1, ""), 2, m.Opset))
}
