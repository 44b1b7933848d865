package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"io"
	"strings"
	"testing"
)

// diffStats compares n samples read by get.
type diffStats struct {
	max int
	sum float64
	n   int
	at  string
}

func (s *diffStats) add(a, b uint8, where func() string) {
	d := int(a) - int(b)
	if d < 0 {
		d = -d
	}
	if d > s.max {
		s.max = d
		s.at = where()
	}
	s.sum += float64(d)
	s.n++
}

func (s diffStats) mean() float64 { return s.sum / float64(max(s.n, 1)) }

// comparePlane compares a w x h plane of got and want.
func comparePlane(s *diffStats, name string, got []byte, gs int, want []byte, ws int, w, h int) {
	for y := range h {
		for x := range w {
			s.add(got[y*gs+x], want[y*ws+x], func() string { return fmt.Sprintf("%s (%d,%d)", name, x, y) })
		}
	}
}

func TestScale1MatchesStdlib(t *testing.T) {
	for _, tc := range corpus(t) {
		t.Run(tc.Name, func(t *testing.T) {
			want, err := stdjpeg.Decode(bytes.NewReader(tc.Data))
			if err != nil {
				// image/jpeg rejects some progressive files with restart
				// intervals that libjpeg-turbo writes; TestReducedMatchesDjpeg
				// checks those at scale 1 too.
				t.Skipf("image/jpeg: %v", err)
			}
			got, err := Decode(tc.Data, Options{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Bounds() != want.Bounds() {
				t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
			}
			w, h := want.Bounds().Dx(), want.Bounds().Dy()
			var s diffStats
			switch want := want.(type) {
			case *image.Gray:
				g := got.(*image.Gray)
				comparePlane(&s, "Y", g.Pix, g.Stride, want.Pix, want.Stride, w, h)
			case *image.YCbCr:
				g := got.(*image.YCbCr)
				if g.SubsampleRatio != want.SubsampleRatio {
					t.Fatalf("ratio %v, want %v", g.SubsampleRatio, want.SubsampleRatio)
				}
				comparePlane(&s, "Y", g.Y, g.YStride, want.Y, want.YStride, w, h)
				cr := want.COffset(w-1, h-1) - want.COffset(0, h-1) + 1
				ch := (want.COffset(0, h-1))/want.CStride + 1
				comparePlane(&s, "Cb", g.Cb, g.CStride, want.Cb, want.CStride, cr, ch)
				comparePlane(&s, "Cr", g.Cr, g.CStride, want.Cr, want.CStride, cr, ch)
			case *image.CMYK:
				g := got.(*image.CMYK)
				comparePlane(&s, "CMYK", g.Pix, g.Stride, want.Pix, want.Stride, 4*w, h)
			default:
				t.Fatalf("image/jpeg returned %T", want)
			}
			// image/jpeg's IDCT rounds differently from libjpeg-turbo's
			// islow, which this package computes: a level on a few samples
			// (measured over the corpus: max 1, mean <= 0.033).
			t.Logf("%T: max %d at %s, mean %.4f", got, s.max, s.at, s.mean())
			if s.max > 1 || s.mean() > 0.05 {
				t.Errorf("max diff %d at %s, mean %.4f; want <= 1 and <= 0.05", s.max, s.at, s.mean())
			}
		})
	}
}

func TestReducedMatchesDjpeg(t *testing.T) {
	for _, tc := range corpus(t) {
		cfg, err := DecodeConfig(tc.Data)
		if err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		if cfg.Components == 4 {
			continue // djpeg writes no CMYK PNM; see TestReducedCMYK
		}
		for _, scale := range []int{1, 2, 4, 8} {
			t.Run(fmt.Sprintf("%s/1:%d", tc.Name, scale), func(t *testing.T) {
				got, err := Decode(tc.Data, Options{Scale: scale})
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				frac := fmt.Sprintf("1/%d", scale)
				// Luma alone: djpeg -grayscale writes the Y plane.
				ypix, w, h, _ := djpeg(t, tc.Data, "-dct", "int", "-grayscale", "-scale", frac)
				if got.Bounds() != image.Rect(0, 0, w, h) {
					t.Fatalf("bounds %v, djpeg %dx%d", got.Bounds(), w, h)
				}
				var ys diffStats
				var yplane []byte
				var ystride int
				switch g := got.(type) {
				case *image.Gray:
					yplane, ystride = g.Pix, g.Stride
				case *image.YCbCr:
					yplane, ystride = g.Y, g.YStride
				}
				comparePlane(&ys, "Y", yplane, ystride, ypix, w, w, h)
				// The transforms are libjpeg-turbo's islow and jidctred ones:
				// the same samples.
				if ys.max > 0 {
					t.Errorf("luma: max diff %d at %s, mean %.4f; want 0", ys.max, ys.at, ys.mean())
				}
				yc, ok := got.(*image.YCbCr)
				if !ok {
					return
				}
				// Where chroma is still subsampled at this scale, djpeg
				// -nosmooth replicates it as this test does.
				args := []string{"-scale", frac}
				if yc.SubsampleRatio != image.YCbCrSubsampleRatio444 {
					args = append(args, "-nosmooth")
				}
				rgb, _, _, _ := djpeg(t, tc.Data, args...)
				var cs diffStats
				for y := range h {
					for x := range w {
						r, g, b := color.YCbCrToRGB(yc.YCbCrAt(x, y).Y, yc.YCbCrAt(x, y).Cb, yc.YCbCrAt(x, y).Cr)
						p := rgb[(y*w+x)*3:]
						at := func() string { return fmt.Sprintf("(%d,%d)", x, y) }
						cs.add(r, p[0], at)
						cs.add(g, p[1], at)
						cs.add(b, p[2], at)
					}
				}
				// color.YCbCrToRGB rounds differently from libjpeg's tables
				// (measured: max 1, mean <= 0.333; imageprep's
				// TestJPEGMatchesDjpeg checks libjpeg's conversion exactly).
				const maxDiff, maxMean = 1, 0.35
				t.Logf("luma max %d mean %.3f; rgb %v max %d mean %.3f", ys.max, ys.mean(), yc.SubsampleRatio, cs.max, cs.mean())
				if cs.max > maxDiff || cs.mean() > maxMean {
					t.Errorf("rgb: max diff %d at %s, mean %.4f; want <= %d, <= %g", cs.max, cs.at, cs.mean(), maxDiff, maxMean)
				}
			})
		}
	}
}

// TestReducedCMYK checks reduced CMYK against the standard library's full
// decode averaged over each scale x scale box (the reduced transform is
// the block's low frequencies, close to that mean).
func TestReducedCMYK(t *testing.T) {
	for _, tc := range corpus(t) {
		if !strings.Contains(tc.Name, "cmyk") {
			continue
		}
		full, err := stdjpeg.Decode(bytes.NewReader(tc.Data))
		if err != nil {
			t.Fatal(err)
		}
		f := full.(*image.CMYK)
		for _, scale := range []int{2, 4, 8} {
			got, err := Decode(tc.Data, Options{Scale: scale})
			if err != nil {
				t.Fatalf("%s 1/%d: %v", tc.Name, scale, err)
			}
			g := got.(*image.CMYK)
			var s diffStats
			b := g.Bounds()
			for y := range b.Dy() {
				for x := range b.Dx() {
					for c := range 4 {
						sum, n := 0, 0
						for yy := y * scale; yy < min((y+1)*scale, f.Rect.Dy()); yy++ {
							for xx := x * scale; xx < min((x+1)*scale, f.Rect.Dx()); xx++ {
								sum += int(f.Pix[yy*f.Stride+4*xx+c])
								n++
							}
						}
						s.add(g.Pix[y*g.Stride+4*x+c], uint8((sum+n/2)/n), func() string { return fmt.Sprintf("(%d,%d,%d)", x, y, c) })
					}
				}
			}
			t.Logf("%s 1/%d: max %d mean %.3f", tc.Name, scale, s.max, s.mean())
			if s.mean() > 3 {
				t.Errorf("%s 1/%d: mean diff %.3f from the box average, want <= 3", tc.Name, scale, s.mean())
			}
		}
	}
}

func TestDecodeConfigMatchesStdlib(t *testing.T) {
	for _, tc := range corpus(t) {
		want, err := stdjpeg.DecodeConfig(bytes.NewReader(tc.Data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeConfig(tc.Data)
		if err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		if got.Width != want.Width || got.Height != want.Height {
			t.Errorf("%s: %dx%d, want %dx%d", tc.Name, got.Width, got.Height, want.Width, want.Height)
		}
	}
}

func TestErrors(t *testing.T) {
	good := cjpeg(t, photo(64, 48, 3), "-quality", "90")
	prog := cjpeg(t, photo(64, 48, 3), "-progressive")
	sos := bytes.Index(good, []byte{0xFF, mSOS})
	tests := []struct {
		name  string
		data  []byte
		opts  Options
		check func(error) bool
	}{
		{"empty", nil, Options{}, isTruncated},
		{"not jpeg", []byte("GIF89a......"), Options{}, isFormat},
		{"header only", good[:sos], Options{}, isTruncated},
		{"cut in scan", good[:sos+200], Options{}, isTruncated},
		{"cut in progressive scan", prog[:len(prog)/2], Options{}, isTruncated},
		{"too large", good, Options{MaxPixels: 64*48 - 1}, func(err error) bool { return errors.Is(err, ErrTooLarge) }},
		{"arithmetic", setByte(good, bytes.Index(good, []byte{0xFF, mSOF0})+1, 0xC9), Options{}, isUnsupported},
		{"12-bit", setByte(good, bytes.Index(good, []byte{0xFF, mSOF0})+4, 12), Options{}, isUnsupported},
		{"bad scale", good, Options{Scale: 3}, func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, tt.opts)
			if !tt.check(err) {
				t.Errorf("Decode: %v (%T)", err, err)
			}
		})
	}
}

func setByte(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

func isTruncated(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }
func isFormat(err error) bool {
	var fe FormatError
	return errors.As(err, &fe)
}
func isUnsupported(err error) bool {
	var ue UnsupportedError
	return errors.As(err, &ue)
}
