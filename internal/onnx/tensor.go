package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Tensor is a constant tensor of the model: an initializer or a Constant
// node's value. Floating-point types are read as float32, integer types and
// bool as int64.
type Tensor struct {
	Name  string
	Shape []int
	Float []float32 // FLOAT and DOUBLE values, or nil
	Int   []int64   // integer and BOOL values, or nil
}

// Len is the number of values.
func (t *Tensor) Len() int { return len(t.Float) + len(t.Int) }

// ONNX TensorProto.DataType values (onnx.proto).
const (
	typeFloat  = 1
	typeUint8  = 2
	typeInt8   = 3
	typeUint16 = 4
	typeInt16  = 5
	typeInt32  = 6
	typeInt64  = 7
	typeBool   = 9
	typeDouble = 11
	typeUint32 = 12
	typeUint64 = 13
)

// widths is the raw_data size of one value of each type this package reads.
var widths = map[uint64]int{
	typeFloat: 4, typeUint8: 1, typeInt8: 1, typeUint16: 2, typeInt16: 2, typeInt32: 4,
	typeInt64: 8, typeBool: 1, typeDouble: 8, typeUint32: 4, typeUint64: 8,
}

// maxValues bounds a tensor's element count (dims are untrusted).
const maxValues = math.MaxInt32

// tensorProto is a TensorProto's fields, as walk reads them: the typed data
// fields are decoded as they come, packed and unpacked alike, so they never
// take more memory than a small multiple of the input.
type tensorProto struct {
	name     string
	dims     []int64
	dtype    uint64
	raw      []byte
	hasRaw   bool
	floats   []float32 // float_data (4)
	doubles  []float64 // double_data (10)
	ints     []int64   // int32_data (5), int64_data (7)
	uints    []uint64  // uint64_data (11)
	external []keyValue
	extern   bool // data_location EXTERNAL
	segment  bool
}

type keyValue struct{ key, value string }

// readTensorProto walks a TensorProto (onnx.proto field numbers: dims 1,
// data_type 2, segment 3, float_data 4, int32_data 5, int64_data 7, name 8,
// raw_data 9, double_data 10, uint64_data 11, external_data 13,
// data_location 14).
func readTensorProto(b []byte) (*tensorProto, error) {
	p := &tensorProto{}
	err := walk(b, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
		switch {
		case n == 1 && t == protowire.VarintType:
			p.dims = append(p.dims, int64(x))
		case n == 1 && t == protowire.BytesType:
			return varints(v, func(d uint64) { p.dims = append(p.dims, int64(d)) })
		case n == 2 && t == protowire.VarintType:
			p.dtype = x
		case n == 3:
			p.segment = true
		case n == 4 && t == protowire.Fixed32Type:
			p.floats = append(p.floats, math.Float32frombits(uint32(x)))
		case n == 4 && t == protowire.BytesType:
			if len(v)%4 != 0 {
				return fmt.Errorf("%w: packed float_data of %d bytes", ErrMalformed, len(v))
			}
			for ; len(v) > 0; v = v[4:] {
				p.floats = append(p.floats, math.Float32frombits(binary.LittleEndian.Uint32(v)))
			}
		case n == 10 && t == protowire.Fixed64Type:
			p.doubles = append(p.doubles, math.Float64frombits(x))
		case n == 10 && t == protowire.BytesType:
			if len(v)%8 != 0 {
				return fmt.Errorf("%w: packed double_data of %d bytes", ErrMalformed, len(v))
			}
			for ; len(v) > 0; v = v[8:] {
				p.doubles = append(p.doubles, math.Float64frombits(binary.LittleEndian.Uint64(v)))
			}
		case n == 5 && t == protowire.VarintType: // int32 values, sign-extended
			p.ints = append(p.ints, int64(int32(x)))
		case n == 5 && t == protowire.BytesType:
			return varints(v, func(u uint64) { p.ints = append(p.ints, int64(int32(u))) })
		case n == 7 && t == protowire.VarintType:
			p.ints = append(p.ints, int64(x))
		case n == 7 && t == protowire.BytesType:
			return varints(v, func(u uint64) { p.ints = append(p.ints, int64(u)) })
		case n == 11 && t == protowire.VarintType:
			p.uints = append(p.uints, x)
		case n == 11 && t == protowire.BytesType:
			return varints(v, func(u uint64) { p.uints = append(p.uints, u) })
		case n == 8 && t == protowire.BytesType:
			p.name = string(v)
		case n == 9 && t == protowire.BytesType:
			p.raw, p.hasRaw = v, true
		case n == 13 && t == protowire.BytesType:
			kv, err := readKeyValue(v)
			p.external = append(p.external, kv)
			return err
		case n == 14 && t == protowire.VarintType:
			p.extern = x == 1
		}
		return nil
	})
	return p, err
}

// readKeyValue reads a StringStringEntryProto (key 1, value 2).
func readKeyValue(b []byte) (keyValue, error) {
	var kv keyValue
	err := walk(b, func(n protowire.Number, t protowire.Type, v []byte, _ uint64) error {
		if t == protowire.BytesType && n == 1 {
			kv.key = string(v)
		}
		if t == protowire.BytesType && n == 2 {
			kv.value = string(v)
		}
		return nil
	})
	return kv, err
}

// size checks the dims and returns the element count.
func (p *tensorProto) size() (int, error) {
	size := 1
	for _, d := range p.dims {
		if d < 0 || d > maxValues {
			return 0, fmt.Errorf("%w: tensor %q has dimension %d", ErrMalformed, p.name, d)
		}
		size *= int(d)
		if size > maxValues {
			return 0, fmt.Errorf("%w: tensor %q is too large", ErrMalformed, p.name)
		}
	}
	return size, nil
}

// decodeTensor decodes a TensorProto stored in any encoding: raw_data, the
// typed data fields (packed or not), or an external data file read through
// ext (nil: the model has no directory). It returns a nil Tensor for types it
// does not read (float16, strings, complex).
func decodeTensor(b []byte, ext *externalData) (*Tensor, error) {
	p, err := readTensorProto(b)
	if err != nil {
		return nil, err
	}
	if p.segment {
		return nil, fmt.Errorf("%w: tensor %q is stored in segments, which ONNX models do not use", ErrMalformed, p.name)
	}
	width, ok := widths[p.dtype]
	if !ok {
		if p.extern {
			return nil, fmt.Errorf("tensor %q: external data of element type %d is not supported", p.name, p.dtype)
		}
		return nil, nil
	}
	size, err := p.size()
	if err != nil {
		return nil, err
	}
	t := &Tensor{Name: p.name, Shape: make([]int, len(p.dims))}
	for i, d := range p.dims {
		t.Shape[i] = int(d)
	}
	switch {
	case p.extern:
		raw, err := ext.read(p, size*width)
		if err != nil {
			return nil, err
		}
		return t, t.fromRaw(p.dtype, raw, size)
	case p.hasRaw:
		if len(p.raw) != size*width {
			return nil, fmt.Errorf("%w: tensor %q of shape %v has %d bytes of raw_data, want %d", ErrMalformed, p.name, p.dims, len(p.raw), size*width)
		}
		return t, t.fromRaw(p.dtype, p.raw, size)
	}
	return t, t.fromTyped(p, size)
}

// fromTyped takes the values of the typed data field that goes with the
// element type.
func (t *Tensor) fromTyped(p *tensorProto, size int) error {
	n := 0
	switch p.dtype {
	case typeFloat:
		t.Float, n = p.floats, len(p.floats)
	case typeDouble:
		t.Float, n = make([]float32, len(p.doubles)), len(p.doubles)
		for i, v := range p.doubles {
			t.Float[i] = float32(v)
		}
	case typeUint32, typeUint64:
		t.Int, n = make([]int64, len(p.uints)), len(p.uints)
		for i, v := range p.uints {
			if v > math.MaxInt64 {
				return fmt.Errorf("tensor %q: value %d does not fit an int64", p.name, v)
			}
			t.Int[i] = int64(v)
		}
	default:
		t.Int, n = p.ints, len(p.ints)
	}
	if n != size {
		return fmt.Errorf("%w: tensor %q of shape %v has %d values", ErrMalformed, p.name, p.dims, n)
	}
	if t.Float == nil && t.Int == nil { // an empty tensor keeps its kind
		if p.dtype == typeFloat || p.dtype == typeDouble {
			t.Float = []float32{}
		} else {
			t.Int = []int64{}
		}
	}
	return nil
}

// fromRaw decodes size little-endian values of type dtype.
func (t *Tensor) fromRaw(dtype uint64, raw []byte, size int) error {
	le := binary.LittleEndian
	switch dtype {
	case typeFloat:
		t.Float = make([]float32, size)
		for i := range t.Float {
			t.Float[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return nil
	case typeDouble:
		t.Float = make([]float32, size)
		for i := range t.Float {
			t.Float[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
		return nil
	}
	t.Int = make([]int64, size)
	for i := range t.Int {
		switch dtype {
		case typeInt64:
			t.Int[i] = int64(le.Uint64(raw[8*i:]))
		case typeUint64:
			u := le.Uint64(raw[8*i:])
			if u > math.MaxInt64 {
				return fmt.Errorf("tensor %q: value %d does not fit an int64", t.Name, u)
			}
			t.Int[i] = int64(u)
		case typeInt32:
			t.Int[i] = int64(int32(le.Uint32(raw[4*i:])))
		case typeUint32:
			t.Int[i] = int64(le.Uint32(raw[4*i:]))
		case typeInt16:
			t.Int[i] = int64(int16(le.Uint16(raw[2*i:])))
		case typeUint16:
			t.Int[i] = int64(le.Uint16(raw[2*i:]))
		case typeInt8:
			t.Int[i] = int64(int8(raw[i]))
		default: // uint8, bool
			t.Int[i] = int64(raw[i])
		}
	}
	return nil
}
