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
