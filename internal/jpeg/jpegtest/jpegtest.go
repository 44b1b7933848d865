// Package jpegtest makes test images for the JPEG decoder and its users:
// noise-rich synthetic photos, JPEGs written by libjpeg-turbo's cjpeg, and
// reference decodes by its djpeg.
package jpegtest

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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// NeedTool returns the path of a libjpeg-turbo tool (cjpeg, djpeg): a
// missing one skips the test, or fails it under CI, where .ci/run installs
// libjpeg-turbo-progs.
func NeedTool(tb testing.TB, name string) string {
	tb.Helper()
	return testsupport.Tool(tb, name, "")
}

// Photo makes a w x h image that compresses like a photograph: smooth
// shapes, edges, texture and sensor-like noise, so that every coefficient
// band carries data.
func Photo(w, h int, seed uint64) *image.RGBA {
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

func PPM(img *image.RGBA) []byte {
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

// Cjpeg encodes img with libjpeg-turbo's cjpeg and the given options.
func Cjpeg(tb testing.TB, img *image.RGBA, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command(NeedTool(tb, "cjpeg"), args...)
	cmd.Stdin = bytes.NewReader(PPM(img))
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("cjpeg %v: %v", args, err)
	}
	return out
}

// Djpeg decodes data with libjpeg-turbo's djpeg and returns the PNM
// samples (1 or 3 per pixel) and the size.
func Djpeg(tb testing.TB, data []byte, args ...string) (pix []byte, w, h, channels int) {
	tb.Helper()
	cmd := exec.Command(NeedTool(tb, "djpeg"), append(args, "-pnm")...)
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

// Photo12MP makes a 4032x3024 phone-sized photo the way issue 11 measured
// one: the fixture dog upscaled bilinearly, with noise, as packed RGBA.
func Photo12MP(tb testing.TB) *image.RGBA {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(FixtureImages(tb), "dog-768x576.jpg"))
	if err != nil {
		tb.Fatal(err)
	}
	src, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	return UpscaleNoisy(src, 4032, 3024, 6)
}

// UpscaleNoisy resizes src to w x h bilinearly and adds Gaussian noise of
// standard deviation sigma, like sensor noise on a phone photo.
func UpscaleNoisy(src image.Image, w, h int, sigma float64) *image.RGBA {
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	rgb := make([]float64, sw*sh*3)
	for y := range sh {
		for x := range sw {
			r, g, bl, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := (y*sw + x) * 3
			rgb[i], rgb[i+1], rgb[i+2] = float64(r>>8), float64(g>>8), float64(bl>>8)
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	var wg sync.WaitGroup
	const bands = 8
	for band := range bands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(band), 11))
			for y := band * h / bands; y < (band+1)*h/bands; y++ {
				fy := (float64(y)+0.5)*float64(sh)/float64(h) - 0.5
				y0 := min(max(int(fy), 0), sh-2)
				ty := min(max(fy-float64(y0), 0), 1)
				for x := range w {
					fx := (float64(x)+0.5)*float64(sw)/float64(w) - 0.5
					x0 := min(max(int(fx), 0), sw-2)
					tx := min(max(fx-float64(x0), 0), 1)
					p := out.Pix[y*out.Stride+4*x:]
					for c := range 3 {
						a := rgb[(y0*sw+x0)*3+c]*(1-tx) + rgb[(y0*sw+x0+1)*3+c]*tx
						bb := rgb[((y0+1)*sw+x0)*3+c]*(1-tx) + rgb[((y0+1)*sw+x0+1)*3+c]*tx
						v := a*(1-ty) + bb*ty + rng.NormFloat64()*sigma
						p[c] = uint8(min(max(v+0.5, 0), 255))
					}
					p[3] = 255
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// FixtureImages is ../shared/fixtures/images from the repository root.
func FixtureImages(tb testing.TB) string {
	tb.Helper()
	return testsupport.Fixtures(tb, "images")
}

// CPUTime is the CPU time the process has used: on a shared, loaded
// machine it tracks the work a benchmark did better than the wall clock.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Case is one test JPEG.
type Case struct {
	Name string
	Data []byte
}

// Corpus makes JPEGs with every subsampling, progressive and baseline,
// restart intervals, grayscale, odd sizes and 1x1, with cjpeg and the
// standard library's encoder, plus the fixture JPEGs.
func Corpus(tb testing.TB) []Case {
	tb.Helper()
	var cs []Case
	sizes := [][2]int{{1, 1}, {17, 9}, {64, 48}, {97, 61}}
	samples := []string{"1x1", "2x1", "2x2", "1x2", "4x1"}
	for _, sz := range sizes {
		img := Photo(sz[0], sz[1], uint64(sz[0]))
		for _, s := range samples {
			for _, prog := range []bool{false, true} {
				args := []string{"-quality", "90", "-sample", s}
				name := fmt.Sprintf("%dx%d-%s", sz[0], sz[1], s)
				if prog {
					args = append(args, "-progressive")
					name += "-prog"
				}
				cs = append(cs, Case{name, Cjpeg(tb, img, args...)})
			}
		}
		cs = append(cs,
			Case{fmt.Sprintf("%dx%d-gray", sz[0], sz[1]), Cjpeg(tb, img, "-grayscale", "-quality", "85")},
			Case{fmt.Sprintf("%dx%d-gray-prog", sz[0], sz[1]), Cjpeg(tb, img, "-grayscale", "-progressive")},
			Case{fmt.Sprintf("%dx%d-restart1", sz[0], sz[1]), Cjpeg(tb, img, "-restart", "1B", "-sample", "2x2")},
			Case{fmt.Sprintf("%dx%d-restart3-prog", sz[0], sz[1]), Cjpeg(tb, img, "-restart", "3B", "-progressive")},
			Case{fmt.Sprintf("%dx%d-q100", sz[0], sz[1]), Cjpeg(tb, img, "-quality", "100", "-sample", "1x1")},
		)
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 75}); err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, Case{fmt.Sprintf("%dx%d-stdlib", sz[0], sz[1]), bytes.Clone(buf.Bytes())})
		buf.Reset()
		gray := image.NewGray(img.Bounds())
		for i := range gray.Pix {
			gray.Pix[i] = img.Pix[4*i+1]
		}
		if err := stdjpeg.Encode(&buf, gray, nil); err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, Case{fmt.Sprintf("%dx%d-stdlib-gray", sz[0], sz[1]), bytes.Clone(buf.Bytes())})
	}
	return append(cs, FixtureJPEGs(tb)...)
}

// FixtureJPEGs reads the fixture JPEGs (../shared/fixtures/images/*.jpg).
func FixtureJPEGs(tb testing.TB) []Case {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(FixtureImages(tb), "*.jpg"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("fixture JPEGs: %v", err)
	}
	var cs []Case
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, Case{filepath.Base(f), data})
	}
	return cs
}
