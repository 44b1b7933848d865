package jpeg

import (
	"bytes"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// needTool returns the path of a libjpeg-turbo tool. Without it the test
// skips, except under CI (.ci/run installs libjpeg-turbo-progs), where it
// fails.
func needTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s not found (apt-get install libjpeg-turbo-progs): %v", name, err)
		}
		tb.Skipf("%s not found (apt-get install libjpeg-turbo-progs)", name)
	}
	return p
}

// photo makes a w x h image that compresses like a photograph: smooth
// shapes, edges, texture and sensor-like noise, so that every coefficient
// band carries data.
func photo(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	type blob struct {
		x, y, r float64
		c       [3]float64
	}
	blobs := make([]blob, 12)
	for i := range blobs {
		blobs[i] = blob{rng.Float64() * float64(w), rng.Float64() * float64(h),
			(0.05 + 0.3*rng.Float64()) * float64(max(w, h)),
			[3]float64{rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255}}
	}
	for y := range h {
		for x := range w {
			v := [3]float64{float64(x) * 200 / float64(w), float64(y) * 200 / float64(h), 100}
			for _, b := range blobs {
				dx, dy := float64(x)-b.x, float64(y)-b.y
				if dx*dx+dy*dy < b.r*b.r {
					v = b.c
				}
			}
			tex := 20 * float64((x/3+y/5)%7) / 7
			p := img.Pix[y*img.Stride+4*x:]
			for c := range 3 {
				p[c] = uint8(min(max(v[c]+tex+rng.NormFloat64()*12, 0), 255))
			}
			p[3] = 255
		}
	}
	return img
}

func ppm(img *image.RGBA) []byte {
	b := img.Bounds()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "P6\n%d %d\n255\n", b.Dx(), b.Dy())
	for y := range b.Dy() {
		for x := range b.Dx() {
			p := img.Pix[y*img.Stride+4*x:]
			buf.Write(p[:3])
		}
	}
	return buf.Bytes()
}

// cjpeg encodes img with libjpeg-turbo's cjpeg and the given options.
func cjpeg(tb testing.TB, img *image.RGBA, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command(needTool(tb, "cjpeg"), args...)
	cmd.Stdin = bytes.NewReader(ppm(img))
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("cjpeg %v: %v", args, err)
	}
	return out
}

// djpeg decodes data with libjpeg-turbo's djpeg and returns the PNM
// samples (1 or 3 per pixel) and the size.
func djpeg(tb testing.TB, data []byte, args ...string) (pix []byte, w, h, channels int) {
	tb.Helper()
	cmd := exec.Command(needTool(tb, "djpeg"), append(args, "-pnm")...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("djpeg %v: %v", args, err)
	}
	return parsePNM(tb, out)
}

func parsePNM(tb testing.TB, b []byte) ([]byte, int, int, int) {
	tb.Helper()
	var fields []string
	i := 0
	for len(fields) < 4 && i < len(b) {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
			i++
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		fields = append(fields, string(b[i:j]))
		i = j
	}
	i++ // the single whitespace after maxval
	ch := 3
	if fields[0] == "P5" {
		ch = 1
	}
	w, _ := strconv.Atoi(fields[1])
	h, _ := strconv.Atoi(fields[2])
	if len(b)-i != w*h*ch {
		tb.Fatalf("PNM %s %dx%d: %d bytes of samples", fields[0], w, h, len(b)-i)
	}
	return b[i:], w, h, ch
}

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

// fixtureImages is ../shared/fixtures/images from the repository root.
func fixtureImages(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
	f := filepath.Join(dir, "..", "shared", "fixtures", "images")
	if _, err := os.Stat(f); err != nil {
		tb.Fatalf("fixtures: %v", err)
	}
	return f
}
