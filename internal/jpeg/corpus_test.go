package jpeg

import (
	"bytes"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
)

// corpusCase is one test JPEG.
type corpusCase struct {
	name string
	data []byte
}

// corpus makes JPEGs with every subsampling, progressive and baseline,
// restart intervals, grayscale, odd sizes and 1x1, with cjpeg and the
// standard library's encoder, plus the fixture JPEGs.
func corpus(tb testing.TB) []corpusCase {
	tb.Helper()
	var cs []corpusCase
	sizes := [][2]int{{1, 1}, {17, 9}, {64, 48}, {97, 61}}
	samples := []string{"1x1", "2x1", "2x2", "1x2", "4x1"}
	for _, sz := range sizes {
		img := photo(sz[0], sz[1], uint64(sz[0]))
		for _, s := range samples {
			for _, prog := range []bool{false, true} {
				args := []string{"-quality", "90", "-sample", s}
				name := fmt.Sprintf("%dx%d-%s", sz[0], sz[1], s)
				if prog {
					args = append(args, "-progressive")
					name += "-prog"
				}
				cs = append(cs, corpusCase{name, cjpeg(tb, img, args...)})
			}
		}
		cs = append(cs,
			corpusCase{fmt.Sprintf("%dx%d-gray", sz[0], sz[1]), cjpeg(tb, img, "-grayscale", "-quality", "85")},
			corpusCase{fmt.Sprintf("%dx%d-gray-prog", sz[0], sz[1]), cjpeg(tb, img, "-grayscale", "-progressive")},
			corpusCase{fmt.Sprintf("%dx%d-restart1", sz[0], sz[1]), cjpeg(tb, img, "-restart", "1B", "-sample", "2x2")},
			corpusCase{fmt.Sprintf("%dx%d-restart3-prog", sz[0], sz[1]), cjpeg(tb, img, "-restart", "3B", "-progressive")},
			corpusCase{fmt.Sprintf("%dx%d-q100", sz[0], sz[1]), cjpeg(tb, img, "-quality", "100", "-sample", "1x1")},
		)
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 75}); err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, corpusCase{fmt.Sprintf("%dx%d-stdlib", sz[0], sz[1]), bytes.Clone(buf.Bytes())})
		buf.Reset()
		gray := image.NewGray(img.Bounds())
		for i := range gray.Pix {
			gray.Pix[i] = img.Pix[4*i+1]
		}
		if err := stdjpeg.Encode(&buf, gray, nil); err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, corpusCase{fmt.Sprintf("%dx%d-stdlib-gray", sz[0], sz[1]), bytes.Clone(buf.Bytes())})
	}
	dir := fixtureImages(tb)
	files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, corpusCase{filepath.Base(f), data})
	}
	return cs
}

var (
	needTool      = jpegtest.NeedTool
	photo         = jpegtest.Photo
	cjpeg         = jpegtest.Cjpeg
	djpeg         = jpegtest.Djpeg
	fixtureImages = jpegtest.FixtureImages
	photo12MP     = jpegtest.Photo12MP
)

var lookPath = exec.LookPath
