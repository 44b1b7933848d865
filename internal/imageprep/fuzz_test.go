package imageprep

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/iotest"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// referenceDecoders decode the formats whose pixels Prepare takes as the
// decoder gives them (GIF has its own palette handling, JPEG its own
// decoder, lossy WebP libwebp's YUV conversion: those are not compared).
var referenceDecoders = map[string]func(io.Reader) (image.Image, error){
	FormatPNG: png.Decode, FormatBMP: bmp.Decode, FormatTIFF: tiff.Decode, FormatWebP: webp.Decode,
}

// FuzzPrepare feeds arbitrary bytes to Prepare, seeded with every fixture
// and testdata image: it must never panic, every error must carry a code
// and DecodeCost must weigh every image Prepare decodes. Differentially, for
// PNG, BMP, TIFF and lossless WebP: Prepare succeeds exactly when the
// format's own decoder does (within the pixel limit), reports the decoder's
// size turned by the EXIF orientation, and gives bit for bit the tensor of
// the decoded image turned upright by the test's own orientRef and passed to
// ToTensor (the plain path: no reorientation in place, no crop-region
// resize).
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
	want := make([]float32, 3*32*32)
	f.Fuzz(func(t *testing.T, data []byte) {
		// DecodeCost reads the same headers first: it never panics either,
		// and it weighs every image Prepare decodes.
		cost, costErr := DecodeCost(data, cfg)
		if costErr != nil && Code(costErr) == "" {
			t.Fatalf("DecodeCost error without a code: %v", costErr)
		}
		info, err := Prepare(data, cfg, dst)
		if err == nil && (costErr != nil || cost < int64(info.Width)) {
			t.Fatalf("Prepare decoded a %dx%d image, DecodeCost said %d, %v", info.Width, info.Height, cost, costErr)
		}
		if err != nil && Code(err) == "" {
			t.Fatalf("error without a code: %v", err)
		}
		format, _ := Sniff(data)
		if format == FormatJPEG {
			// Streamed in small chunks, a JPEG gives Prepare's tensor or
			// its error code, or is left to the whole path.
			r := iotest.HalfReader(iotest.OneByteReader(bytes.NewReader(data)))
			sinfo, serr := PrepareReader(r, cfg, want, nil)
			switch {
			case errors.Is(serr, ErrNotStreamed):
			case Code(serr) != Code(err) || (serr == nil) != (err == nil):
				t.Fatalf("PrepareReader: %v, Prepare: %v", serr, err)
			case err == nil && (sinfo.Width != info.Width || sinfo.Height != info.Height || !slices.Equal(dst, want)):
				t.Fatalf("PrepareReader's tensor or size (%dx%d) differs from Prepare's (%dx%d)", sinfo.Width, sinfo.Height, info.Width, info.Height)
			}
		}
		decode, ok := referenceDecoders[format]
		if !ok {
			return
		}
		conf, _, cerr := image.DecodeConfig(bytes.NewReader(data))
		if cerr != nil || conf.Width*conf.Height > cfg.MaxPixels || conf.Width <= 0 || conf.Height <= 0 {
			return // Prepare refuses these before decoding; their errors are checked above
		}
		img, derr := decode(bytes.NewReader(data))
		if derr != nil {
			if err == nil {
				t.Fatalf("%s decoder fails (%v), Prepare succeeds", format, derr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s decoder succeeds, Prepare fails: %v", format, err)
		}
		if img.Bounds().Empty() {
			return
		}
		switch img.(type) {
		case *image.YCbCr, *image.NYCbCrA:
			return // lossy WebP: libwebp's conversion, not the decoder's
		}
		o := Orientation(format, data)
		var upright image.Image = img
		if o != 1 {
			if !nrgbaExact(img) {
				return // orientRef's NRGBA copy would round these colours
			}
			upright = orientRef(img, o)
		}
		if b := upright.Bounds(); info.Width != b.Dx() || info.Height != b.Dy() || info.Format != format {
			t.Fatalf("info %dx%d %s, decoder %v oriented %d", info.Width, info.Height, info.Format, b.Size(), o)
		}
		if err := ToTensor(upright, cfg, want); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(dst, want) {
			t.Fatalf("tensor differs from the decoder's image through ToTensor (orientation %d, %T %v)", o, img, img.Bounds())
		}
	})
}

// nrgbaExact reports whether an NRGBA copy keeps img's colours exactly, as
// Prepare reads them.
func nrgbaExact(img image.Image) bool {
	switch m := img.(type) {
	case *image.NRGBA, *image.Gray:
		return true
	case *image.RGBA:
		return m.Opaque()
	}
	return false
}
