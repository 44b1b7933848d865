package imageprep

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func prepareFile(t *testing.T, path string) ([]float32, Info) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return prepareBytes(t, data)
}

func prepareBytes(t *testing.T, data []byte) ([]float32, Info) {
	t.Helper()
	dst := make([]float32, 3*224*224)
	info, err := Prepare(data, imageNet, dst)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return dst, info
}

func diff(a, b []float32) (mean, worst float64) {
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		mean += d
		worst = max(worst, d)
	}
	return mean / float64(len(a)), worst
}

// TestFormatsMatchPNG decodes golang.org/x/image's test images (copied to
// testdata/) in every supported format and compares each with the PNG of the
// same picture.
func TestFormatsMatchPNG(t *testing.T) {
	tests := []struct {
		file, png, format string
		maxMean, maxAbs   float64
	}{
		// Lossless: bit-exact.
		{"video-001.bmp", "video-001.png", "bmp", 0, 0},
		{"video-001.tiff", "video-001.png", "tiff", 0, 0},
		// 16-bit samples keep their high byte, as PIL's RGB;16B unpacker does.
		{"video-001-16bit.tiff", "video-001.png", "tiff", 0, 0},
		{"gopher-doc.8bpp.lossless.webp", "gopher-doc.8bpp.png", "webp", 0, 0},
		// Lossy: the compression error, which is deterministic (the same
		// VP8 decoder and conversion every run): mean 0.05359 and max
		// 1.16776 measured with libwebp's studio-range YUV conversion;
		// full-range JFIF arithmetic gives mean 0.197. The limits sit just
		// above the measurement, for float formatting only.
		{"video-001.lossy.webp", "video-001.png", "webp", 0.0537, 1.1678},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, info := prepareFile(t, filepath.Join("testdata", tt.file))
			want, winfo := prepareFile(t, filepath.Join("testdata", tt.png))
			if info.Format != tt.format || info.Width != winfo.Width || info.Height != winfo.Height {
				t.Errorf("info %+v, want format %s and size %dx%d", info, tt.format, winfo.Width, winfo.Height)
			}
			mean, worst := diff(got, want)
			t.Logf("against %s: mean abs %.5f, max abs %.5f", tt.png, mean, worst)
			if mean > tt.maxMean || worst > tt.maxAbs {
				t.Errorf("mean abs %.5f, max abs %.5f, want <= %g, %g", mean, worst, tt.maxMean, tt.maxAbs)
			}
		})
	}
}

// TestOrientation checks each EXIF orientation on a 3x2 image against the
// transposes PIL's ImageOps.exif_transpose applies.
func TestOrientation(t *testing.T) {
	// Stored image, one byte per pixel:  a b c
	//                                    d e f
	tests := []struct {
		o    int
		w, h int
		want string
	}{
		{1, 3, 2, "abcdef"},
		{2, 3, 2, "cbafed"}, // FLIP_LEFT_RIGHT
		{3, 3, 2, "fedcba"}, // ROTATE_180
		{4, 3, 2, "defabc"}, // FLIP_TOP_BOTTOM
		{5, 2, 3, "adbecf"}, // TRANSPOSE
		{6, 2, 3, "daebfc"}, // ROTATE_270 (90 degrees clockwise)
		{7, 2, 3, "fcebda"}, // TRANSVERSE
		{8, 2, 3, "cfbead"}, // ROTATE_90 (90 degrees counter-clockwise)
	}
	raw := []byte("aaabbbcccdddeeefff") // packed RGB
	for _, tt := range tests {
		w, h := orientedSize(tt.o, 3, 2)
		if w != tt.w || h != tt.h {
			t.Errorf("orientation %d: size %dx%d, want %dx%d", tt.o, w, h, tt.w, tt.h)
			continue
		}
		dst := make([]byte, w*h*3)
		reorient(dst, raw, tt.o, w, h, 0, 0, w, h, 0, 0, 3)
		var got []byte
		for i := 0; i < len(dst); i += 3 {
			got = append(got, dst[i])
		}
		if string(got) != tt.want {
			t.Errorf("orientation %d: %s, want %s", tt.o, got, tt.want)
		}
		// Every sub-rectangle maps to the stored rectangle holding its pixels.
		for x0 := 0; x0 < w; x0++ {
			for y0 := 0; y0 < h; y0++ {
				rx0, ry0, rx1, ry1 := rawRect(tt.o, w, h, x0, y0, w, h)
				for y := y0; y < h; y++ {
					for x := x0; x < w; x++ {
						u, v := rawPoint(tt.o, w, h, x, y)
						if u < rx0 || u >= rx1 || v < ry0 || v >= ry1 {
							t.Fatalf("orientation %d: (%d,%d) maps to (%d,%d), outside %v", tt.o, x, y, u, v, image.Rect(rx0, ry0, rx1, ry1))
						}
					}
				}
			}
		}
	}
}

// withExif stores img transformed so that orientation o restores it, as a
// PNG with an eXIf chunk.
func withExif(t *testing.T, img *image.NRGBA, o int, bigEndian bool) []byte {
	t.Helper()
	b := img.Bounds()
	sw, sh := orientedSize(o, b.Dx(), b.Dy()) // the stored size is the oriented size swapped back
	stored := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	for y := range b.Dy() {
		for x := range b.Dx() {
			u, v := rawPoint(o, b.Dx(), b.Dy(), x, y)
			stored.SetNRGBA(u, v, img.NRGBAAt(x, y))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, stored); err != nil {
		t.Fatal(err)
	}
	var exif []byte
	if bigEndian {
		exif = []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, 0, 0, 0, 0, 0, 0}
	} else {
		exif = []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(o), 0, 0, 0, 0, 0, 0, 0}
	}
	data := buf.Bytes()
	ihdrEnd := 8 + 8 + 13 + 4
	out := append([]byte(nil), data[:ihdrEnd]...)
	out = append(out, pngChunk("eXIf", exif)...)
	return append(out, data[ihdrEnd:]...)
}

func TestPrepareAppliesOrientation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []image.Point{{120, 80}, {80, 120}, {97, 61}} {
		img := image.NewNRGBA(image.Rect(0, 0, size.X, size.Y))
		for i := range img.Pix {
			img.Pix[i] = uint8(r.IntN(256))
		}
		var buf bytes.Buffer
		png.Encode(&buf, img)
		want, _ := prepareBytes(t, buf.Bytes())
		for o := 1; o <= 8; o++ {
			got, info := prepareBytes(t, withExif(t, img, o, o%2 == 0))
			if info.Width != size.X || info.Height != size.Y {
				t.Errorf("%v orientation %d: info size %dx%d", size, o, info.Width, info.Height)
			}
			if mean, _ := diff(got, want); mean != 0 {
				t.Errorf("%v orientation %d: mean abs %g against the upright image", size, o, mean)
			}
		}
	}
}

// TestGIFTransparentColor: PIL's convert("RGB") keeps the stored color of
// the transparent palette entry; image/gif blanks it.
func TestGIFTransparentColor(t *testing.T) {
	pal := color.Palette{color.RGBA{0, 0, 0, 0}, color.RGBA{10, 20, 30, 255}}
	img := image.NewPaletted(image.Rect(0, 0, 8, 8), pal)
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if data[10]&0x80 == 0 {
		t.Fatal("encoder wrote no global color table")
	}
	copy(data[13:16], []byte{200, 100, 50}) // entry 0, the transparent one
	got, _ := prepareBytes(t, data)
	for c, v := range []byte{200, 100, 50} {
		want := (float32(v)/255 - ImageNetMean[c]) / ImageNetStd[c]
		if got[c*224*224] != want {
			t.Errorf("channel %d = %g, want %g (stored color %d)", c, got[c*224*224], want, v)
		}
	}
}

// TestConvert checks the per-type RGB conversions against PIL's formulas.
func TestConvert(t *testing.T) {
	r := image.Rect(0, 0, 1, 1)
	tests := []struct {
		name string
		img  image.Image
		want [3]byte
	}{
		{"gray", &image.Gray{Pix: []byte{77}, Stride: 1, Rect: r}, [3]byte{77, 77, 77}},
		{"gray16 high byte", &image.Gray16{Pix: []byte{0x12, 0xff}, Stride: 2, Rect: r}, [3]byte{0x12, 0x12, 0x12}},
		{"nrgba alpha dropped", &image.NRGBA{Pix: []byte{200, 100, 50, 0}, Stride: 4, Rect: r}, [3]byte{200, 100, 50}},
		{"rgba", &image.RGBA{Pix: []byte{1, 2, 3, 255}, Stride: 4, Rect: r}, [3]byte{1, 2, 3}},
		{"nrgba64", &image.NRGBA64{Pix: []byte{1, 9, 2, 9, 3, 9, 0, 0}, Stride: 8, Rect: r}, [3]byte{1, 2, 3}},
		{"rgba64", &image.RGBA64{Pix: []byte{4, 9, 5, 9, 6, 9, 255, 255}, Stride: 8, Rect: r}, [3]byte{4, 5, 6}},
		// cmyk2rgb: nk - MULDIV255(c, nk) with nk = 255-k = 155:
		// MULDIV255(100,155) = 61, MULDIV255(0,155) = 0, MULDIV255(255,155) = 155.
		{"cmyk", &image.CMYK{Pix: []byte{100, 0, 255, 100}, Stride: 4, Rect: r}, [3]byte{94, 155, 0}},
		{"paletted nrgba", &image.Paletted{Pix: []byte{1}, Stride: 1, Rect: r, Palette: color.Palette{color.Black, color.NRGBA{9, 8, 7, 0}}}, [3]byte{9, 8, 7}},
		{"generic", image.NewUniform(color.NRGBA{30, 40, 50, 128}), [3]byte{30, 40, 50}},
		// libjpeg's ycc_rgb_convert of (Y, Cb, Cr) = (100, 90, 200):
		// R = 100 + round(1.402*72) = 201, G = 100 + floor(-0.34414*-38 - 0.71414*72 + 0.5) = 62, B = 100 + round(1.772*-38) = 33.
		{"ycbcr", &image.YCbCr{Y: []byte{100}, Cb: []byte{90}, Cr: []byte{200}, YStride: 1, CStride: 1, Rect: r, SubsampleRatio: image.YCbCrSubsampleRatio444}, [3]byte{201, 62, 33}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [3]byte
			toRGB(got[:], tt.img, r, yccJFIF, nil)
			if got != tt.want {
				t.Errorf("toRGB = %v, want %v", got, tt.want)
			}
		})
	}
}

// referenceTensor is the straightforward pipeline: resize the whole image
// with full-length coefficients, then crop with padding, then normalize.
func referenceTensor(rgb []byte, w, h int, cfg Config) []float32 {
	nw, nh := resizedSize(w, h, cfg.ResizeShorter)
	cur, cw, chh := rgb, w, h
	if nw != w {
		c := computeCoeffs(w, nw, 0, nw, 0, float64(w))
		out := make([]byte, nw*h*3)
		resizeRows(out, cur, h, w*3, 3, 0, c)
		cur, cw = out, nw
	}
	if nh != h {
		c := computeCoeffs(h, nh, 0, nh, 0, float64(h))
		out := make([]byte, cw*nh*3)
		for i := range nh {
			resizeColumn(out[i*cw*3:], nil, cur, cw, 0, c, i)
		}
		cur, chh = out, nh
	}
	crop := cfg.Crop
	left, top := cropOffset(cw, crop), cropOffset(chh, crop)
	dst := make([]float32, 3*crop*crop)
	for c := range 3 {
		for i := range crop {
			for j := range crop {
				y, x := top+i, left+j
				var v byte
				if y >= 0 && y < chh && x >= 0 && x < cw {
					v = cur[(y*cw+x)*3+c]
				}
				dst[c*crop*crop+i*crop+j] = (float32(v)/255 - cfg.Mean[c]) / cfg.Std[c]
			}
		}
	}
	return dst
}

// TestCropRegionMatchesFullResize checks that computing only the pixels in
// the crop gives what resizing everything and cropping gives, for shapes
// that downscale, upscale, keep one side, or are smaller than the crop.
func TestCropRegionMatchesFullResize(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sizes := []image.Point{{768, 576}, {60, 45}, {1200, 150}, {256, 256}, {256, 400}, {400, 256},
		{1, 1}, {1, 40}, {40, 1}, {255, 257}, {224, 224}, {13, 199}}
	cfgs := []Config{imageNet, {ResizeShorter: 200, Crop: 224}, {ResizeShorter: 224, Crop: 224}, {ResizeShorter: 33, Crop: 17}}
	for _, s := range sizes {
		img := image.NewRGBA(image.Rect(0, 0, s.X, s.Y))
		rgb := make([]byte, s.X*s.Y*3)
		for i := range s.X * s.Y {
			v := r.Uint32()
			for c := range 3 {
				img.Pix[i*4+c], rgb[i*3+c] = uint8(v>>(8*c)), uint8(v>>(8*c))
			}
			img.Pix[i*4+3] = 255
		}
		for _, cfg := range cfgs {
			cfg = cfg.withDefaults()
			want := referenceTensor(rgb, s.X, s.Y, cfg)
			got := make([]float32, 3*cfg.Crop*cfg.Crop)
			if err := ToTensor(img, cfg, got); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%v resize %d crop %d: element %d = %g, want %g", s, cfg.ResizeShorter, cfg.Crop, i, got[i], want[i])
				}
			}
		}
	}
}

func TestResizeArithmetic(t *testing.T) {
	// torchvision 0.14: new_long = int(size * long / short).
	for _, tt := range []struct{ w, h, nw, nh int }{
		{768, 576, 341, 256}, {60, 45, 341, 256}, {1200, 150, 2048, 256}, {410, 310, 338, 256},
		{640, 427, 383, 256}, {360, 480, 256, 341}, {320, 480, 256, 384}, {256, 256, 256, 256},
	} {
		if nw, nh := resizedSize(tt.w, tt.h, 256); nw != tt.nw || nh != tt.nh {
			t.Errorf("resizedSize(%d, %d) = %d, %d, want %d, %d", tt.w, tt.h, nw, nh, tt.nw, tt.nh)
		}
	}
	// int(round((n - 224) / 2.0)) with Python's round half to even; zero
	// padding (crop - n) // 2 before when the image is smaller.
	for _, tt := range []struct{ n, off int }{
		{341, 58}, {383, 80}, {338, 57}, {384, 80}, {256, 16}, {224, 0}, {225, 0}, {227, 2}, {221, -1}, {220, -2}, {100, -62},
	} {
		if got := cropOffset(tt.n, 224); got != tt.off {
			t.Errorf("cropOffset(%d, 224) = %d, want %d", tt.n, got, tt.off)
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		data   string
		format string
		ok     bool
	}{
		{"\xff\xd8\xff\xe0", "jpeg", true},
		{"\x89PNG\r\n\x1a\n", "png", true},
		{"GIF89a", "gif", true},
		{"GIF87a", "gif", true},
		{"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp", true},
		{"RIFF\x00\x00\x00\x00WAVEfmt ", "", false},
		{"BM\x00\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00", "bmp", true},
		{"BMW is a car brand", "", false},
		{"II*\x00\x08\x00\x00\x00", "tiff", true},
		{"MM\x00*\x00\x00\x00\x08", "tiff", true},
		{"\x00\x00\x00\x18ftypheic", "heic", false},
		{"\x00\x00\x00\x1cftypavif", "avif", false},
		{"\x00\x00\x01\x00\x01\x00", "ico", false},
		{"%PDF-1.7", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		format, ok := Sniff([]byte(tt.data))
		if format != tt.format || ok != tt.ok {
			t.Errorf("Sniff(%q) = %q, %v, want %q, %v", tt.data, format, ok, tt.format, tt.ok)
		}
	}
}
