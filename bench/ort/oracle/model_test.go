package oracle

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file writes ONNX models node by node, from the field numbers of
// onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto, ValueInfoProto), independently of mlserve's loader: the
// models the oracle tests hand to both ONNX Runtime and mlserve.

// attr is one node attribute: an int, a float or a list of ints.
type attr struct {
	name string
	kind int // AttributeProto.AttributeType: 1 FLOAT, 2 INT, 7 INTS
	f    float32
	i    int64
	ints []int64
}

func aInt(name string, v int64) attr     { return attr{name: name, kind: 2, i: v} }
func aFloat(name string, v float32) attr { return attr{name: name, kind: 1, f: v} }
func aInts(name string, v ...int64) attr { return attr{name: name, kind: 7, ints: v} }
func newNode(op string, in, out []string, attrs ...attr) node {
	return node{op: op, in: in, out: out, attrs: attrs}
}

type node struct {
	op      string
	in, out []string
	attrs   []attr
}

// tensor is a float initializer.
type tensor struct {
	name string
	dims []int64
	data []float32
}

// model is a one-input, one-output graph: input "data" [N,3,size,size]
// (N symbolic), output "out".
type model struct {
	opset int64
	size  int64
	nodes []node
	inits []tensor
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

func (a attr) encode() []byte {
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

func (n node) encode(i int) []byte {
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

func (t tensor) encode() []byte {
	var b []byte
	for _, d := range t.dims {
		b = varint(b, 1, d)
	}
	b = varint(b, 2, 1) // FLOAT
	b = str(b, 8, t.name)
	raw := make([]byte, 0, 4*len(t.data))
	for _, v := range t.data {
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

func (m model) encode() []byte {
	g := str(nil, 2, "oracle")
	for i, n := range m.nodes {
		g = msg(g, 1, n.encode(i))
	}
	for _, t := range m.inits {
		g = msg(g, 5, t.encode())
	}
	g = msg(g, 11, valueInfo("data", []int64{-1, 3, m.size, m.size}))
	g = msg(g, 12, valueInfo("out", nil))
	b := varint(nil, 1, 7) // IR version 7 (opsets up to 14)
	if m.opset > 14 {
		b = varint(nil, 1, 8)
	}
	b = str(b, 2, "mlserve-oracle-test")
	b = msg(b, 7, g)
	return msg(b, 8, varint(str(nil, 1, ""), 2, m.opset))
}
