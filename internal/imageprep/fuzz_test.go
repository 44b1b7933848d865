package imageprep

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzPrepare feeds arbitrary bytes to Prepare, seeded with every fixture
// and testdata image: it must never panic, every error must carry a code,
// a success must fill the tensor with finite values, and DecodeCost must
// weigh every image Prepare decodes.
func FuzzPrepare(f *testing.F) {
	for _, dir := range []string{filepath.Join(fixtures(f), "images"), "testdata"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	// A small crop and pixel limit keep each run fast; the limit still
	// admits every seed image.
	cfg := Config{ResizeShorter: 40, Crop: 32, MaxPixels: 1 << 20}
	dst := make([]float32, 3*32*32)
	f.Fuzz(func(t *testing.T, data []byte) {
		// DecodeCost reads the same headers first: it never panics either,
		// and it weighs every image Prepare decodes.
		cost, cerr := DecodeCost(data, cfg)
		if cerr != nil && Code(cerr) == "" {
			t.Fatalf("DecodeCost error without a code: %v", cerr)
		}
		info, err := Prepare(data, cfg, dst)
		if err == nil && (cerr != nil || cost < int64(info.Width)) {
			t.Fatalf("Prepare decoded a %dx%d image, DecodeCost said %d, %v", info.Width, info.Height, cost, cerr)
		}
		if err != nil {
			if Code(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if info.Width <= 0 || info.Height <= 0 || info.Format == "" {
			t.Fatalf("bad info %+v", info)
		}
		for i, v := range dst {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("dst[%d] = %g", i, v)
			}
		}
	})
}
