package imageprep

import (
	"fmt"
	"image"
	"testing"

	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
)

// TestJPEGMatchesDjpeg checks the RGB samples the tensor is made from
// against libjpeg-turbo's djpeg (islow IDCT, fancy upsampling, its colour
// conversion: what PIL decodes with) at every scale the fast path uses,
// over the corpus of jpegtest (every subsampling, baseline and
// progressive, restart intervals, odd sizes, 1x1, grayscale, the fixture
// JPEGs, CMYK among them). They must be identical.
func TestJPEGMatchesDjpeg(t *testing.T) {
	for _, tc := range jpegtest.Corpus(t) {
		for _, scale := range []int{1, 2, 4, 8} {
			t.Run(fmt.Sprintf("%s/1:%d", tc.Name, scale), func(t *testing.T) {
				img, ok, err := decodeJPEG(tc.Data, scale, DefaultMaxPixels)
				if !ok || err != nil {
					t.Fatalf("decodeJPEG: %v, %v", ok, err)
				}
				want, w, h, ch := jpegtest.Djpeg(t, tc.Data, "-dct", "int", "-scale", fmt.Sprintf("1/%d", scale))
				if img.Bounds() != image.Rect(0, 0, w, h) {
					t.Fatalf("bounds %v, djpeg %dx%d", img.Bounds(), w, h)
				}
				got := make([]byte, w*h*3)
				ycc := yccJFIF
				if scale == 8 {
					ycc = yccJFIFReplicated
				}
				if m, ok := img.(*image.CMYK); ok {
					djpegCMYK(got, m)
				} else {
					toRGB(got, img, img.Bounds(), ycc, nil)
				}
				if ch == 1 {
					got = gray(got)
				}
				bad, first := 0, -1
				for i := range want {
					if got[i] != want[i] {
						if bad == 0 {
							first = i
						}
						bad++
					}
				}
				if bad > 0 {
					p := first / ch
					t.Errorf("%d of %d samples differ from djpeg; first at (%d,%d) channel %d: %d, want %d",
						bad, len(want), p%w, p/w, first%ch, got[first], want[first])
				}
			})
		}
	}
}

// djpegCMYK converts an Adobe CMYK image (the standard library's
// convention: the stored samples inverted) to RGB the way djpeg's PPM
// writer does, from the stored samples: r = c*k/255 rounded. That checks
// the decoded planes; the tensor converts with PIL's formula instead.
func djpegCMYK(dst []byte, m *image.CMYK) {
	b := m.Bounds()
	for y := range b.Dy() {
		for x := range b.Dx() {
			p := m.Pix[y*m.Stride+4*x:]
			k := 255 - int(p[3])
			for c := range 3 {
				v := 255 - int(p[c])
				dst[(y*b.Dx()+x)*3+c] = uint8((v*k*2 + 255) / 510)
			}
		}
	}
}

// gray keeps the first of each three samples.
func gray(rgb []byte) []byte {
	out := make([]byte, len(rgb)/3)
	for i := range out {
		out[i] = rgb[3*i]
	}
	return out
}
