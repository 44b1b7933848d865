package jpeg

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time the process has used: on a shared, loaded
// machine it tracks the work done better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Photo12MP makes a 4032x3024 phone-sized photo the way issue 11 measured
// one: the fixture dog upscaled bilinearly, with noise, as packed RGBA.
func photo12MP(tb testing.TB) *image.RGBA {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureImages(tb), "dog-768x576.jpg"))
	if err != nil {
		tb.Fatal(err)
	}
	src, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	return upscaleNoisy(src, 4032, 3024, 6)
}

// upscaleNoisy resizes src to w x h bilinearly and adds Gaussian noise of
// standard deviation sigma, like sensor noise on a phone photo.
func upscaleNoisy(src image.Image, w, h int, sigma float64) *image.RGBA {
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

var (
	bench12Once             sync.Once
	bench12Base, bench12Pro []byte
)

// photos12MP returns the 12 MP photo as a baseline JPEG (image/jpeg, q92,
// 4:2:0) and as a progressive one (cjpeg -progressive, q92, 4:2:0).
func photos12MP(b *testing.B) (baseline, progressive []byte) {
	bench12Once.Do(func() {
		img := photo12MP(b)
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 92}); err != nil {
			b.Fatal(err)
		}
		bench12Base = buf.Bytes()
		bench12Pro = cjpeg(b, img, "-quality", "92", "-sample", "2x2", "-progressive")
	})
	return bench12Base, bench12Pro
}

// BenchmarkDecode12MP times this package at each scale against
// image/jpeg on the same data, in the same run.
func BenchmarkDecode12MP(b *testing.B) {
	base, prog := photos12MP(b)
	for _, f := range []struct {
		name string
		data []byte
	}{{"baseline", base}, {"progressive", prog}} {
		b.Run(f.name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := stdjpeg.Decode(bytes.NewReader(f.data)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
		for _, scale := range []int{1, 2, 4, 8} {
			b.Run(f.name+"/scale"+string(rune('0'+scale)), func(b *testing.B) {
				b.SetBytes(int64(len(f.data)))
				cpu0 := cpuTime()
				for b.Loop() {
					if _, err := Decode(f.data, Options{Scale: scale}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
			})
		}
	}
}
