package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	stdjpeg "image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// fuzzMaxPixels keeps each fuzz input fast.
const fuzzMaxPixels = 1 << 20

// FuzzDecode checks that no input panics or hangs the decoder, and that
// whatever image/jpeg decodes, this package decodes too (or reports an
// UnsupportedError, on which callers fall back), at the same size. A
// Stream fed the data in small chunks gives what Decode gives.
func FuzzDecode(f *testing.F) {
	for _, sz := range [][2]int{{1, 1}, {17, 9}, {40, 24}} {
		img := photo(sz[0], sz[1], 5)
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 80}); err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.Clone(buf.Bytes()))
	}
	files, _ := filepath.Glob(filepath.Join(fixtureImages(f), "*.jpg"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	tool, err := lookTools()
	if !tool && testsupport.CI() {
		f.Fatalf("FuzzDecode seeds: %v (apt-get install libjpeg-turbo-progs)", err)
	}
	if tool {
		img := photo(33, 17, 9)
		for _, args := range [][]string{
			{"-progressive", "-sample", "2x2"}, {"-progressive", "-restart", "1B"},
			{"-sample", "4x1", "-restart", "2B"}, {"-grayscale", "-progressive"}, {"-sample", "1x2"},
		} {
			f.Add(cjpeg(f, img, args...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, scale := range []int{1, 2, 8} {
			got, err := Decode(data, Options{Scale: scale, MaxPixels: fuzzMaxPixels})
			r := &chunkReader{r: bytes.NewReader(data), n: 1 + len(data)%13}
			sg, serr := decodeStream(r, Options{Scale: scale, MaxPixels: fuzzMaxPixels})
			sameResult(t, fmt.Sprintf("scale %d, %d-byte chunks", scale, r.n), sg, serr, got, err)
			if err == nil {
				w, h := got.Bounds().Dx(), got.Bounds().Dy()
				if w < 1 || h < 1 {
					t.Fatalf("scale %d: empty image without an error", scale)
				}
			}
		}
		cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > fuzzMaxPixels {
			return
		}
		want, err := stdjpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		got, err := Decode(data, Options{MaxPixels: fuzzMaxPixels})
		var ue UnsupportedError
		if errors.As(err, &ue) {
			return
		}
		if err != nil {
			t.Fatalf("image/jpeg decodes it (%T %v), Decode: %v", want, want.Bounds(), err)
		}
		if got.Bounds() != want.Bounds() {
			t.Fatalf("bounds %v, image/jpeg %v", got.Bounds(), want.Bounds())
		}
	})
}

// lookTools reports whether cjpeg and djpeg are installed.
func lookTools() (bool, error) {
	for _, name := range []string{"cjpeg", "djpeg"} {
		if _, err := lookPath(name); err != nil {
			return false, err
		}
	}
	return true, nil
}
