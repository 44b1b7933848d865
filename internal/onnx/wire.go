package onnx

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed is returned for bytes that are not an ONNX protobuf.
var ErrMalformed = errors.New("malformed ONNX model")

// walk calls fn for each field of a protobuf message: a varint's value in x,
// a length-delimited field's contents in v, a fixed-width field's value in x
// and its four or eight little-endian bytes in v (so float_data stored
// unpacked reads as what it is), and a group's raw encoding in v.
func walk(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.Fixed32Type:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			x, v = uint64(u), b[:max(n, 0)]
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
			v = b[:max(n, 0)]
		default: // groups: v is the raw encoding, end tag included
			n = protowire.ConsumeFieldValue(num, typ, b)
			v = b[:max(n, 0)]
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
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

// varints decodes a packed repeated varint field.
func varints(v []byte, fn func(uint64)) error {
	for len(v) > 0 {
		x, k := protowire.ConsumeVarint(v)
		if k < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(k))
		}
		fn(x)
		v = v[k:]
	}
	return nil
}
