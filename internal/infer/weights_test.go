package infer

import (
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlserve/mlserve/internal/onnx"
)

// tensorEncoding is how a rewritten float initializer stores its values.
type tensorEncoding int

const (
	encRaw      tensorEncoding = iota // raw_data bytes
	encPacked                         // float_data, packed (one length-delimited field)
	encUnpacked                       // float_data, one fixed32 field per value
	encExternal                       // data_location EXTERNAL with an external_data location
)

// reencodeFloats rewrites every float initializer of an ONNX model to store
// its values as enc (the names, dims and values unchanged), and reports how
// many it rewrote. It is written against the ONNX protobuf schema
// (onnx.proto: ModelProto.graph 7, GraphProto.initializer 5, TensorProto
// dims 1, data_type 2, float_data 4, name 8, raw_data 9, external_data 13,
// data_location 14), independently of the loader's own walker.
func reencodeFloats(t *testing.T, model []byte, enc tensorEncoding) ([]byte, int) {
	t.Helper()
	count := 0
	var out []byte
	forFields(t, model, func(num protowire.Number, typ protowire.Type, raw, v []byte) {
		if num != 7 || typ != protowire.BytesType {
			out = append(out, raw...)
			return
		}
		var g []byte
		forFields(t, v, func(num protowire.Number, typ protowire.Type, raw, v []byte) {
			if num != 5 || typ != protowire.BytesType {
				g = append(g, raw...)
				return
			}
			tensor, ok := reencodeTensor(t, v, enc)
			if ok {
				count++
			}
			g = protowire.AppendBytes(protowire.AppendTag(g, 5, protowire.BytesType), tensor)
		})
		out = protowire.AppendBytes(protowire.AppendTag(out, 7, protowire.BytesType), g)
	})
	return out, count
}

// forFields calls fn with each field's whole encoding and, for
// length-delimited fields, its contents.
func forFields(t *testing.T, b []byte, fn func(num protowire.Number, typ protowire.Type, raw, v []byte)) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			t.Fatalf("bad field %d: %v", num, protowire.ParseError(m))
		}
		var v []byte
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(b[n:])
		}
		fn(num, typ, b[:n+m], v)
		b = b[n+m:]
	}
}

func reencodeTensor(t *testing.T, b []byte, enc tensorEncoding) ([]byte, bool) {
	t.Helper()
	var keep []byte
	var vals []float32
	dtype := uint64(0)
	forFields(t, b, func(num protowire.Number, typ protowire.Type, raw, v []byte) {
		switch {
		case num == 2 && typ == protowire.VarintType:
			dtype, _ = protowire.ConsumeVarint(raw[1:])
			keep = append(keep, raw...)
		case num == 9:
			for ; len(v) >= 4; v = v[4:] {
				vals = append(vals, math.Float32frombits(binary.LittleEndian.Uint32(v)))
			}
		case num == 4 && typ == protowire.BytesType:
			for ; len(v) >= 4; v = v[4:] {
				vals = append(vals, math.Float32frombits(binary.LittleEndian.Uint32(v)))
			}
		case num == 4 && typ == protowire.Fixed32Type:
			u, _ := protowire.ConsumeFixed32(raw[1:])
			vals = append(vals, math.Float32frombits(u))
		default:
			keep = append(keep, raw...)
		}
	})
	if dtype != 1 {
		return b, false
	}
	out := keep
	switch enc {
	case encRaw:
		var raw []byte
		for _, f := range vals {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
		}
		out = protowire.AppendBytes(protowire.AppendTag(out, 9, protowire.BytesType), raw)
	case encPacked:
		var packed []byte
		for _, f := range vals {
			packed = protowire.AppendFixed32(packed, math.Float32bits(f))
		}
		out = protowire.AppendBytes(protowire.AppendTag(out, 4, protowire.BytesType), packed)
	case encUnpacked:
		for _, f := range vals {
			out = protowire.AppendFixed32(protowire.AppendTag(out, 4, protowire.Fixed32Type), math.Float32bits(f))
		}
	case encExternal:
		var entry []byte // StringStringEntryProto{key: "location", value: "weights.bin"}
		entry = protowire.AppendString(protowire.AppendTag(entry, 1, protowire.BytesType), "location")
		entry = protowire.AppendString(protowire.AppendTag(entry, 2, protowire.BytesType), "weights.bin")
		out = protowire.AppendBytes(protowire.AppendTag(out, 13, protowire.BytesType), entry)
		out = protowire.AppendVarint(protowire.AppendTag(out, 14, protowire.VarintType), 1)
	}
	return out, true
}

// TestWeightEncodings loads a fixture whose float initializers (large conv
// weights read by the engine itself, small biases and BatchNorm vectors read
// through onnx-go) are stored each way ONNX allows, and checks the logits
// against torch's: unpacked float_data once read as zeros.
func TestWeightEncodings(t *testing.T) {
	orig := readModel(t, "mini-v1-opset11.onnx")
	want := readF32(t, filepath.Join(fixtures, "models", "mini-v1.out-b4.f32"))
	input := readF32(t, filepath.Join(fixtures, "models/input-b4.f32"))
	per := 3 * 224 * 224
	px := [][]float32{input[:per], input[per : 2*per], input[2*per : 3*per], input[3*per:]}
	for _, tt := range []struct {
		name string
		enc  tensorEncoding
	}{{"raw_data", encRaw}, {"float_data packed", encPacked}, {"float_data unpacked", encUnpacked}} {
		t.Run(tt.name, func(t *testing.T) {
			data, n := reencodeFloats(t, orig, tt.enc)
			if n < 10 {
				t.Fatalf("rewrote only %d initializers", n)
			}
			c, err := LoadBytes(data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := logitsFlat(t, c, px)
			// parityLimit: measured, see tolerance_test.go.
			if e := relL2(got, want); !(e < parityLimit) {
				t.Errorf("relative L2 error %.3g against torch, want < %g", e, parityLimit)
			}
		})
	}
	t.Run("external data", func(t *testing.T) {
		data, _ := reencodeFloats(t, orig, encExternal)
		_, err := LoadBytes(data, Options{})
		var le *LoadError
		if !errors.As(err, &le) || !errors.Is(err, onnx.ErrExternalData) || !strings.Contains(err.Error(), "external data") {
			t.Fatalf("err = %v, want a *LoadError about external data", err)
		}
	})
}
