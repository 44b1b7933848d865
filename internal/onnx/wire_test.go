package onnx

import (
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestWalkFixedWidth checks that walk passes fixed-width fields on with
// their values and bytes, so re-encoding keeps them.
func TestWalkFixedWidth(t *testing.T) {
	var b []byte
	b = protowire.AppendFixed32(protowire.AppendTag(b, 4, protowire.Fixed32Type), math.Float32bits(1.5))
	b = protowire.AppendFixed64(protowire.AppendTag(b, 10, protowire.Fixed64Type), math.Float64bits(-2.25))
	b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 300)
	var got []byte
	var vals []uint64
	if err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		vals = append(vals, x)
		got = appendField(got, num, typ, v, x)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []uint64{uint64(math.Float32bits(1.5)), math.Float64bits(-2.25), 300}
	for i := range want {
		if i >= len(vals) || vals[i] != want[i] {
			t.Fatalf("values %x, want %x", vals, want)
		}
	}
	if string(got) != string(b) {
		t.Errorf("re-encoded %x, want %x", got, b)
	}
}

// FuzzWalk checks the walker on arbitrary bytes: no panic, no hang, and
// what it decodes re-encodes to a message it decodes the same way (the
// second encoding equals the first; the first may differ from the input
// only in non-minimal varints).
func FuzzWalk(f *testing.F) {
	var seed []byte
	seed = protowire.AppendFixed32(protowire.AppendTag(seed, 4, protowire.Fixed32Type), math.Float32bits(1.5))
	seed = protowire.AppendFixed64(protowire.AppendTag(seed, 10, protowire.Fixed64Type), 7)
	seed = protowire.AppendBytes(protowire.AppendTag(seed, 9, protowire.BytesType), []byte{1, 2, 3})
	seed = protowire.AppendVarint(protowire.AppendTag(seed, 1, protowire.VarintType), 300)
	f.Add(seed)
	f.Add([]byte{0x0b, 0x08, 0x01, 0x0c}) // a group
	reencode := func(b []byte) ([]byte, error) {
		var out []byte
		err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
			out = appendField(out, num, typ, v, x)
			return nil
		})
		return out, err
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		once, err := reencode(data)
		if err != nil {
			return
		}
		twice, err := reencode(once)
		if err != nil || string(twice) != string(once) {
			t.Fatalf("re-encoding %x gave %x, then %x (%v)", data, once, twice, err)
		}
	})
}
