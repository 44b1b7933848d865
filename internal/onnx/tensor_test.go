package onnx

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/onnx/onnxtest"
)

// decodeIn decodes t as written by onnxtest, its external data (if any) in
// a fresh directory.
func decodeIn(t *testing.T, tt onnxtest.Tensor) (*Tensor, error) {
	t.Helper()
	dir := t.TempDir()
	if tt.Enc == onnxtest.External {
		data := append(make([]byte, tt.Offset), tt.RawBytes()...)
		if err := os.WriteFile(filepath.Join(dir, "weights.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ext := &externalData{dir: dir}
	defer ext.close()
	return decodeTensor(tt.Encode(), ext)
}

// TestDecodeTensorEncodings writes tensors of every type the reader takes
// in every encoding ONNX allows and checks the values read against the
// values written.
func TestDecodeTensorEncodings(t *testing.T) {
	floats := []float64{1.5, -2.25, 0, 3e-8, -7, 1e30}
	ints := []int64{0, 1, -1, 127, -128, 42}
	types := []struct {
		name string
		typ  int
		ints []int64 // want for integer types (nil: floats)
	}{
		{"float", onnxtest.Float, nil},
		{"double", onnxtest.Double, nil},
		{"int64", onnxtest.Int64, []int64{0, 1, -1, 1 << 40, -(1 << 40), math.MaxInt64}},
		{"int32", onnxtest.Int32, []int64{0, 1, -1, math.MaxInt32, math.MinInt32, 42}},
		{"int16", onnxtest.Int16, []int64{0, 1, -1, 32767, -32768, 42}},
		{"int8", onnxtest.Int8, ints},
		{"uint8", onnxtest.Uint8, []int64{0, 1, 255, 127, 128, 42}},
		{"bool", onnxtest.Bool, []int64{0, 1, 1, 0, 1, 0}},
		{"uint64", onnxtest.Uint64, []int64{0, 1, math.MaxInt64, 7, 8, 9}},
	}
	for _, ty := range types {
		for _, enc := range []onnxtest.Encoding{onnxtest.Raw, onnxtest.Packed, onnxtest.Unpacked, onnxtest.External} {
			t.Run(ty.name+"/"+enc.String(), func(t *testing.T) {
				in := onnxtest.Tensor{Name: "w", Type: ty.typ, Dims: []int64{2, 3}, Floats: floats, Ints: ty.ints, Enc: enc, Offset: 5}
				got, err := decodeIn(t, in)
				if err != nil {
					t.Fatal(err)
				}
				if got == nil || got.Name != "w" || !reflect.DeepEqual(got.Shape, []int{2, 3}) {
					t.Fatalf("got %+v", got)
				}
				if ty.ints != nil {
					if got.Float != nil || !reflect.DeepEqual(got.Int, ty.ints) {
						t.Errorf("values %v %v, want ints %v", got.Float, got.Int, ty.ints)
					}
					return
				}
				want := make([]float32, len(floats))
				for i, f := range floats {
					want[i] = float32(f)
				}
				if got.Int != nil || !reflect.DeepEqual(got.Float, want) {
					t.Errorf("values %v %v, want floats %v", got.Float, got.Int, want)
				}
			})
		}
	}
}

// TestDecodeTensorErrors checks bad tensors and external data: a clear
// error naming the tensor, and never a file outside the model's directory.
func TestDecodeTensorErrors(t *testing.T) {
	base := onnxtest.Tensor{Name: "conv.w", Type: onnxtest.Float, Dims: []int64{2, 2}, Floats: []float64{1, 2, 3, 4}}
	outside := filepath.Join(t.TempDir(), "secret.bin")
	if err := os.WriteFile(outside, make([]byte, 16), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func(*onnxtest.Tensor)
		setup func(dir string) // in the model's directory
		want  string
	}{
		{"raw_data too short", func(tt *onnxtest.Tensor) { tt.Dims = []int64{2, 3} }, nil, "has 16 bytes of raw_data, want 24"},
		{"too few values", func(tt *onnxtest.Tensor) { tt.Enc, tt.Dims = onnxtest.Unpacked, []int64{5} }, nil, "has 4 values"},
		{"huge dims", func(tt *onnxtest.Tensor) { tt.Dims = []int64{1 << 20, 1 << 20} }, nil, "too large"},
		{"negative dim", func(tt *onnxtest.Tensor) { tt.Dims = []int64{-4} }, nil, "dimension"},
		{"parent path", func(tt *onnxtest.Tensor) { tt.Enc, tt.Location = onnxtest.External, "../secret.bin" }, nil, "leaves the model's directory"},
		{"absolute path", func(tt *onnxtest.Tensor) { tt.Enc, tt.Location = onnxtest.External, outside }, nil, "leaves the model's directory"},
		{"symlink out", func(tt *onnxtest.Tensor) { tt.Enc, tt.Location = onnxtest.External, "link.bin" },
			func(dir string) { os.Symlink(outside, filepath.Join(dir, "link.bin")) }, "link.bin"},
		{"missing file", func(tt *onnxtest.Tensor) { tt.Enc = onnxtest.External }, nil, "weights.bin"},
		{"short file", func(tt *onnxtest.Tensor) { tt.Enc, tt.Offset = onnxtest.External, 8 },
			func(dir string) { os.WriteFile(filepath.Join(dir, "weights.bin"), make([]byte, 20), 0o644) }, "16 bytes at offset 8 do not fit"},
		{"wrong length", func(tt *onnxtest.Tensor) { tt.Enc, tt.Length = onnxtest.External, 12 },
			func(dir string) { os.WriteFile(filepath.Join(dir, "weights.bin"), make([]byte, 20), 0o644) }, "length 12, want 16"},
		{"directory", func(tt *onnxtest.Tensor) { tt.Enc, tt.Location = onnxtest.External, "sub" },
			func(dir string) { os.Mkdir(filepath.Join(dir, "sub"), 0o755) }, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			tt.edit(&in)
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(dir)
			}
			ext := &externalData{dir: dir}
			defer ext.close()
			got, err := decodeTensor(in.Encode(), ext)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"conv.w"`) {
				t.Fatalf("got %+v, %v; want an error naming the tensor with %q", got, err, tt.want)
			}
			if in.Enc == onnxtest.External && !errors.Is(err, ErrExternalData) {
				t.Errorf("%v does not wrap ErrExternalData", err)
			}
		})
	}
	t.Run("no directory", func(t *testing.T) {
		in := base
		in.Enc = onnxtest.External
		_, err := decodeTensor(in.Encode(), &externalData{})
		if !errors.Is(err, ErrExternalData) || !strings.Contains(err.Error(), "load it by path") {
			t.Fatalf("err = %v", err)
		}
	})
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzDecodeTensor feeds mutated TensorProtos to the decoder: errors are
// fine; panics, hangs and allocations beyond a small multiple of the input
// (trusting a declared size) are not.
func FuzzDecodeTensor(f *testing.F) {
	for _, enc := range []onnxtest.Encoding{onnxtest.Raw, onnxtest.Packed, onnxtest.Unpacked} {
		for _, typ := range []int{onnxtest.Float, onnxtest.Double, onnxtest.Int64, onnxtest.Int32, onnxtest.Uint8} {
			in := onnxtest.Tensor{Name: "w", Type: typ, Dims: []int64{2, 2}, Floats: []float64{1, 2, 3, 4}, Ints: []int64{1, -2, 3, 4}, Enc: enc}
			f.Add(in.Encode())
		}
	}
	huge := onnxtest.Tensor{Name: "w", Type: onnxtest.Float, Dims: []int64{1 << 15, 1 << 15}, Enc: onnxtest.Packed}
	f.Add(huge.Encode())
	ext := &externalData{}
	f.Fuzz(func(t *testing.T, data []byte) {
		var err error
		n := allocated(func() { _, err = decodeTensor(data, ext) })
		// Values decoded as int64 take up to 8 bytes per input byte (a
		// one-byte varint); appends double, so 32x bounds it, plus room
		// for the small fixed allocations and the fuzzer's own.
		if limit := 32*uint64(len(data)) + 1<<20; n > limit {
			t.Fatalf("allocated %d bytes for %d input bytes (err %v)", n, len(data), err)
		}
	})
}

// FuzzDescribe feeds mutated models to Describe and Decode: errors are
// fine, panics and hangs are not.
func FuzzDescribe(f *testing.F) {
	f.Add(convModel(onnxtest.Raw))
	f.Add(convModel(onnxtest.Unpacked))
	f.Add([]byte{0x08, 0x07, 0x3a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var err error
		if n := allocated(func() { _, err = Describe(data) }); n > 32*uint64(len(data))+1<<20 {
			t.Fatalf("Describe allocated %d bytes for %d input bytes (err %v)", n, len(data), err)
		}
		Decode(data, "")
	})
}
