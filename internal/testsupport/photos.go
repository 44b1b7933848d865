package testsupport

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// Photo is a w x h JPEG at quality 92 that compresses like a phone photo:
// the dog fixture photograph scaled up (nearest neighbour) with sensor-like
// noise, so that a 4000x3000 one is a few MB.
func Photo(t testing.TB, w, h int) []byte {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(ReadFixture(t, "images", "dog-768x576.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	sb := src.Bounds()
	seed := uint32(1)
	for y := range h {
		for x := range w {
			r, g, b, _ := src.At(sb.Min.X+x*sb.Dx()/w, sb.Min.Y+y*sb.Dy()/h).RGBA()
			seed = seed*1664525 + 1013904223 // Numerical Recipes' LCG
			n := int(seed>>28) - 8           // -8..7
			dst.SetRGBA(x, y, color.RGBA{clip8(int(r>>8) + n), clip8(int(g>>8) + n), clip8(int(b>>8) + n), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// NoisePNG is a w x h PNG of random pixels, which PNG cannot compress: 3
// bytes a pixel and a little more.
func NoisePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	seed := uint32(7)
	for i := range img.Pix {
		seed = seed*1664525 + 1013904223
		img.Pix[i] = byte(seed >> 24)
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func clip8(v int) uint8 { return uint8(max(0, min(255, v))) }
