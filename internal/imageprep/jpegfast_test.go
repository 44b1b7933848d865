package imageprep

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
)

// withOrientation inserts an APP1 Exif segment with orientation o after
// the SOI marker of a JPEG.
func withOrientation(data []byte, o uint16) []byte {
	tiff := []byte("II*\x00\x08\x00\x00\x00\x01\x00")
	tiff = binary.LittleEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.LittleEndian.AppendUint16(tiff, 3)
	tiff = binary.LittleEndian.AppendUint32(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, o)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1}
	app1 = binary.BigEndian.AppendUint16(app1, uint16(len(seg)+2))
	app1 = append(app1, seg...)
	out := append([]byte{}, data[:2]...)
	out = append(out, app1...)
	return append(out, data[2:]...)
}

type namedJPEG = jpegtest.Case

var (
	largeOnce   sync.Once
	largeJPEGs  []namedJPEG
	largeJPEGsE error
)

// largeJPEGs makes phone-sized photos: 12 MP baseline (image/jpeg, 4:2:0)
// and progressive (cjpeg), a rotated one (EXIF 6), and odd sizes with
// other subsamplings.
func largePhotos(tb testing.TB) []namedJPEG {
	tb.Helper()
	largeOnce.Do(func() {
		img := jpegtest.Photo12MP(tb)
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 92}); err != nil {
			largeJPEGsE = err
			return
		}
		base := bytes.Clone(buf.Bytes())
		odd := img.SubImage(image.Rect(0, 0, 4031, 3021)).(*image.RGBA)
		largeJPEGs = []namedJPEG{
			{Name: "12mp-baseline-420", Data: base},
			{Name: "12mp-progressive-420", Data: jpegtest.Cjpeg(tb, img, "-quality", "92", "-sample", "2x2", "-progressive")},
			{Name: "12mp-baseline-exif6", Data: withOrientation(base, 6)},
			{Name: "12mp-odd-422-exif3", Data: withOrientation(jpegtest.Cjpeg(tb, odd, "-quality", "90", "-sample", "2x1"), 3)},
			{Name: "12mp-odd-444-exif8", Data: withOrientation(jpegtest.Cjpeg(tb, odd, "-quality", "90", "-sample", "1x1"), 8)},
		}
	})
	if largeJPEGsE != nil {
		tb.Fatal(largeJPEGsE)
	}
	return largeJPEGs
}

// TestJPEGFastMatchesExact compares the reduced decode's tensor with the
// full-size decode's at margins 1, 1.25 and 2. Tolerances are in normalized
// units (one level is about 0.017): the reduced path averages each block
// before the antialiased resize instead of after, which moves a pixel by
// a few levels where the image has fine detail.
func TestJPEGFastMatchesExact(t *testing.T) {
	images := append(jpegtest.FixtureJPEGs(t), largePhotos(t)...)
	exact := make([]float32, 3*224*224)
	fast := make([]float32, 3*224*224)
	defer func(m float64) { jpegMargin = m }(jpegMargin)
	for _, im := range images {
		exactCfg := imageNet
		exactCfg.ExactResize = true
		ie, err := Prepare(im.Data, exactCfg, exact)
		if err != nil {
			t.Fatalf("%s exact: %v", im.Name, err)
		}
		for _, margin := range []float64{1, 1.25, 2} {
			jpegMargin = margin
			t.Run(fmt.Sprintf("%s/margin%g", im.Name, margin), func(t *testing.T) {
				info, err := Prepare(im.Data, imageNet, fast)
				if err != nil {
					t.Fatal(err)
				}
				if info.Width != ie.Width || info.Height != ie.Height {
					t.Errorf("size %dx%d, exact %dx%d", info.Width, info.Height, ie.Width, ie.Height)
				}
				cfg, _ := jpegConfig(im.Data)
				scale := jpegScale(cfg.Width, cfg.Height, 256, margin)
				mean, worst := diff(fast, exact)
				t.Logf("1/%d: mean abs %.5f, max abs %.5f (%.1f levels)", scale, mean, worst, worst*255*0.226)
				// Measured (2026-12-01): at margins 1.25 and 2 at most mean
				// 0.0137, max 0.349 (the 4:2:2 photo at 1/8); at margin 1
				// the dog at 1/2, mean 0.0277, max 0.453.
				maxMean, maxAbs := 0.015, 0.36
				if margin < 1.25 {
					// a resize of under 1.25x after a reduction
					maxMean, maxAbs = 0.029, 0.46
				}
				if mean > maxMean || worst > maxAbs {
					t.Errorf("mean abs %.5f, max %.5f against the exact path, want <= %g, <= %g", mean, worst, maxMean, maxAbs)
				}
				// Fixtures: against torchvision's tensor too, which the exact
				// path matches exactly (TestPrepareMatchesTorchvision).
				ref := filepath.Join(fixtures(t), "preprocess", im.Name+".f32")
				if _, err := os.Stat(ref); err == nil {
					mean, worst := diff(fast, readFloats(t, ref))
					t.Logf("against torchvision: mean abs %.5f, max abs %.5f", mean, worst)
					if mean > maxMean || worst > maxAbs {
						t.Errorf("mean abs %.5f, max %.5f against torchvision, want <= %g, <= %g", mean, worst, maxMean, maxAbs)
					}
				}
			})
		}
	}
}

// TestJPEGFallback checks that the variants internal/jpeg leaves to
// image/jpeg still decode (an RGB-coded JPEG), and that what neither
// decodes is unsupported_format (arithmetic coding).
func TestJPEGFallback(t *testing.T) {
	img := jpegtest.Photo(300, 200, 4)
	rgb := jpegtest.Cjpeg(t, img, "-rgb")
	arith := jpegtest.Cjpeg(t, img, "-arithmetic")
	fast := make([]float32, 3*224*224)
	exact := make([]float32, 3*224*224)
	if _, err := Prepare(rgb, imageNet, fast); err != nil {
		t.Fatalf("RGB JPEG: %v", err)
	}
	cfg := imageNet
	cfg.ExactResize = true
	if _, err := Prepare(rgb, cfg, exact); err != nil {
		t.Fatalf("RGB JPEG, exact: %v", err)
	}
	if mean, worst := diff(fast, exact); mean != 0 || worst != 0 {
		t.Errorf("RGB JPEG: fast and exact differ (mean %g, max %g): not the same fallback", mean, worst)
	}
	if _, err := Prepare(arith, imageNet, fast); Code(err) != CodeUnsupported {
		t.Errorf("arithmetic JPEG: %v, want %s", err, CodeUnsupported)
	}
}
