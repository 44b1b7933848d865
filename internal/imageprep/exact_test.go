package imageprep

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// TestLosslessBitExact holds every lossless fixture image to torchvision's
// tensor bit for bit. Measured: 100.00% of the 150,528 values equal on each
// (PIL's integer resize arithmetic and the same float32 normalization), so
// any difference is a bug: a dropped rounding in a resize pass, a swapped
// mean or std, a wrong crop offset. The JPEG fixtures have their own limits
// (TestPrepareMatchesTorchvision).
func TestLosslessBitExact(t *testing.T) {
	tests := []struct {
		image  string
		w, h   int
		format string
	}{
		{"gray-320x480.png", 320, 480, "png"},
		{"palette-256x256.gif", 256, 256, "gif"},
		{"rgba-300x300.png", 300, 300, "png"},
		{"scene-500x375.png", 500, 375, "png"},
		{"tiny-60x45.png", 60, 45, "png"},
		{"wide-1200x150.png", 1200, 150, "png"},
	}
	dir := fixtures(t)
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			got, info := prepareFile(t, filepath.Join(dir, "images", tt.image))
			want := readFloats(t, filepath.Join(dir, "preprocess", tt.image+".f32"))
			if info.Width != tt.w || info.Height != tt.h || info.Format != tt.format {
				t.Errorf("info = %dx%d %s, want %dx%d %s", info.Width, info.Height, info.Format, tt.w, tt.h, tt.format)
			}
			requireEqual(t, got, want)
		})
	}
}

// requireEqual fails with the count and the first differing element (as
// channel, row, column of a [3,224,224] tensor) unless got == want exactly.
func requireEqual(t *testing.T, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	bad, first := 0, -1
	for i := range got {
		if got[i] != want[i] {
			if first < 0 {
				first = i
			}
			bad++
		}
	}
	if bad > 0 {
		c, r, x := first/(224*224), first/224%224, first%224
		t.Errorf("%d of %d values differ; first at [%d,%d,%d]: %g, want %g", bad, len(got), c, r, x, got[first], want[first])
	}
}

// TestImageNetConstants pins the normalization to torchvision's published
// ImageNet mean and std (torchvision.transforms.Normalize in the model zoo's
// preprocessing), so that a swap cannot hide behind a test that reads the
// same variables.
func TestImageNetConstants(t *testing.T) {
	if ImageNetMean != [3]float32{0.485, 0.456, 0.406} || ImageNetStd != [3]float32{0.229, 0.224, 0.225} {
		t.Errorf("mean %v std %v, want [0.485 0.456 0.406] [0.229 0.224 0.225]", ImageNetMean, ImageNetStd)
	}
	// The default config (zero Mean and Std) must select them.
	got, _ := prepareFile(t, filepath.Join("testdata", "video-001.png"))
	dst := make([]float32, 3*224*224)
	data, err := os.ReadFile(filepath.Join("testdata", "video-001.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(data, Config{}, dst); err != nil {
		t.Fatal(err)
	}
	requireEqual(t, dst, got)
}

// orientRef applies EXIF orientation o to img as a viewer shows it, written
// from the EXIF 2.3 table (row 0 and column 0 of the stored image are the
// visual top/left, right/top, ...), independently of exif.go.
func orientRef(img image.Image, o int) *image.NRGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	for y := range oh {
		for x := range ow {
			var sx, sy int // the stored pixel shown at (x, y)
			switch o {
			case 1:
				sx, sy = x, y
			case 2: // mirrored left-right
				sx, sy = w-1-x, y
			case 3: // turned 180 degrees
				sx, sy = w-1-x, h-1-y
			case 4: // mirrored top-bottom
				sx, sy = x, h-1-y
			case 5: // transposed
				sx, sy = y, x
			case 6: // needs 90 degrees clockwise
				sx, sy = y, h-1-x
			case 7: // transversed
				sx, sy = w-1-y, h-1-x
			case 8: // needs 90 degrees counter-clockwise
				sx, sy = w-1-y, x
			}
			out.Set(x, y, color.NRGBAModel.Convert(img.At(b.Min.X+sx, b.Min.Y+sy)))
		}
	}
	return out
}

// orders alternates the EXIF byte order by orientation.
var orders = [2]byteOrder{binary.LittleEndian, binary.BigEndian}

// byteOrder reads and appends.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// exifTIFF is a TIFF structure holding only IFD0 with the orientation tag.
func exifTIFF(o int, bo byteOrder) []byte {
	b := []byte("II*\x00")
	if bo == binary.BigEndian {
		b = []byte("MM\x00*")
	}
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, 1)                       // one entry
	b = bo.AppendUint16(b, 0x0112)                  // Orientation
	b = bo.AppendUint16(b, 3)                       // SHORT
	b = bo.AppendUint32(b, 1)                       // count
	b = append(bo.AppendUint16(b, uint16(o)), 0, 0) // value, padded
	return bo.AppendUint32(b, 0)                    // no next IFD
}

// webpWithExif wraps a simple-format lossless WebP (RIFF, VP8L) in the
// extended format with an EXIF chunk after the image data, as libwebp's
// webpmux writes it (WebP container spec: VP8X flags bit 3 = EXIF).
func webpWithExif(t *testing.T, simple []byte, w, h, o int) []byte {
	t.Helper()
	if string(simple[:4]) != "RIFF" || string(simple[8:16]) != "WEBPVP8L" {
		t.Fatalf("not a simple lossless WebP: %q", simple[:16])
	}
	vp8l := simple[12:] // the VP8L chunk, header included
	chunk := func(id string, payload []byte) []byte {
		c := binary.LittleEndian.AppendUint32([]byte(id), uint32(len(payload)))
		c = append(c, payload...)
		if len(payload)%2 == 1 {
			c = append(c, 0)
		}
		return c
	}
	vp8x := []byte{0x08, 0, 0, 0}
	vp8x = append(vp8x, byte(w-1), byte((w-1)>>8), byte((w-1)>>16))
	vp8x = append(vp8x, byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	body := []byte("WEBP")
	body = append(body, chunk("VP8X", vp8x)...)
	body = append(body, vp8l...)
	body = append(body, chunk("EXIF", append([]byte("Exif\x00\x00"), exifTIFF(o, orders[o%2])...))...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// tiffWithOrientation adds the Orientation tag to IFD0 of a TIFF file: it
// appends a copy of IFD0 with the tag inserted in tag order and points the
// header at it (the other entries' offsets stay valid).
func tiffWithOrientation(t *testing.T, data []byte, o int) []byte {
	t.Helper()
	bo := byteOrder(binary.LittleEndian)
	if string(data[:2]) == "MM" {
		bo = binary.BigEndian
	}
	off := int(bo.Uint32(data[4:]))
	n := int(bo.Uint16(data[off:]))
	var entries [][]byte
	for i := range n {
		entries = append(entries, data[off+2+12*i:off+14+12*i])
	}
	tag := bo.AppendUint16(nil, 0x0112)
	tag = bo.AppendUint16(tag, 3)
	tag = bo.AppendUint32(tag, 1)
	tag = append(bo.AppendUint16(tag, uint16(o)), 0, 0)
	entries = append(entries, tag)
	slices.SortFunc(entries, func(a, b []byte) int { return int(bo.Uint16(a)) - int(bo.Uint16(b)) })
	out := slices.Clone(data)
	if len(out)%2 == 1 {
		out = append(out, 0) // IFDs start on a word boundary
	}
	bo.PutUint32(out[4:], uint32(len(out)))
	out = bo.AppendUint16(out, uint16(len(entries)))
	for _, e := range entries {
		out = append(out, e...)
	}
	return bo.AppendUint32(out, 0)
}

// pngOf encodes img as PNG.
func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOrientationWebPTIFF feeds WebP (lossless, EXIF chunk) and TIFF (IFD0
// Orientation tag, both byte orders) files with each EXIF orientation and
// checks the tensor against the stored image decoded by golang.org/x/image,
// turned upright by orientRef and stored as PNG: bit-exact, since all are
// lossless. The upright decode of orientation 1 must differ from the others
// (the images are not symmetric), so ignoring the tag cannot pass.
func TestOrientationWebPTIFF(t *testing.T) {
	webpData, err := os.ReadFile(filepath.Join("testdata", "gopher-doc.8bpp.lossless.webp"))
	if err != nil {
		t.Fatal(err)
	}
	webpImg, err := webp.Decode(bytes.NewReader(webpData))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	noise := image.NewNRGBA(image.Rect(0, 0, 97, 61))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(r.IntN(256))
		if i%4 == 3 {
			noise.Pix[i] = 255
		}
	}
	var tiffLE bytes.Buffer
	if err := tiff.Encode(&tiffLE, noise, nil); err != nil {
		t.Fatal(err)
	}
	tiffBE := toBigEndianTIFF(t, tiffLE.Bytes())
	wb := webpImg.Bounds()
	cases := []struct {
		name   string
		stored image.Image
		make   func(o int) []byte
		format string
	}{
		{"webp", webpImg, func(o int) []byte { return webpWithExif(t, webpData, wb.Dx(), wb.Dy(), o) }, "webp"},
		{"tiff-II", noise, func(o int) []byte { return tiffWithOrientation(t, tiffLE.Bytes(), o) }, "tiff"},
		{"tiff-MM", noise, func(o int) []byte { return tiffWithOrientation(t, tiffBE, o) }, "tiff"},
	}
	for _, c := range cases {
		upright, _ := prepareBytes(t, pngOf(t, c.stored))
		for o := 1; o <= 8; o++ {
			t.Run(fmt.Sprintf("%s/%d", c.name, o), func(t *testing.T) {
				ref := orientRef(c.stored, o)
				want, _ := prepareBytes(t, pngOf(t, ref))
				got, info := prepareBytes(t, c.make(o))
				if info.Format != c.format || info.Width != ref.Bounds().Dx() || info.Height != ref.Bounds().Dy() {
					t.Errorf("info %dx%d %s, want %v %s", info.Width, info.Height, info.Format, ref.Bounds().Size(), c.format)
				}
				requireEqual(t, got, want)
				if o != 1 && slices.Equal(want, upright) {
					t.Fatalf("orientation %d leaves the test image unchanged: it tests nothing", o)
				}
			})
		}
	}
}

// toBigEndianTIFF rewrites the uncompressed 8-bit RGBA TIFF that
// x/image/tiff writes (every entry's value SHORT or LONG, out-of-line arrays
// of SHORT or LONG) in Motorola byte order. Pixel bytes are 8-bit samples,
// the same in either order.
func toBigEndianTIFF(t *testing.T, le []byte) []byte {
	t.Helper()
	l, b := binary.LittleEndian, binary.BigEndian
	out := slices.Clone(le)
	copy(out, "MM\x00*")
	off := int(l.Uint32(le[4:]))
	b.PutUint32(out[4:], uint32(off))
	n := int(l.Uint16(le[off:]))
	b.PutUint16(out[off:], uint16(n))
	size := map[uint16]int{1: 1, 3: 2, 4: 4, 5: 8}
	for i := range n {
		e := off + 2 + 12*i
		tag, typ, count := l.Uint16(le[e:]), l.Uint16(le[e+2:]), int(l.Uint32(le[e+4:]))
		b.PutUint16(out[e:], tag)
		b.PutUint16(out[e+2:], typ)
		b.PutUint32(out[e+4:], uint32(count))
		put := func(dst, src int) { // one value of type typ
			switch typ {
			case 3:
				b.PutUint16(out[dst:], l.Uint16(le[src:]))
			case 4:
				b.PutUint32(out[dst:], l.Uint32(le[src:]))
			case 5:
				b.PutUint32(out[dst:], l.Uint32(le[src:]))
				b.PutUint32(out[dst+4:], l.Uint32(le[src+4:]))
			}
		}
		if sz, ok := size[typ]; !ok || typ == 1 {
			t.Fatalf("tag %d: type %d not handled", tag, typ)
		} else if sz*count <= 4 {
			for k := range count {
				put(e+8+k*sz, e+8+k*sz)
			}
		} else {
			vo := int(l.Uint32(le[e+8:]))
			b.PutUint32(out[e+8:], uint32(vo))
			for k := range count {
				put(vo+k*sz, vo+k*sz)
			}
		}
	}
	b.PutUint32(out[off+2+12*n:], l.Uint32(le[off+2+12*n:]))
	return out
}

// TestSniffBMPReserved: "BM" is taken as a BMP when the header is too short
// to hold the reserved fields (shorter than 10 bytes), or when they are
// zero; from 10 bytes on, non-zero reserved fields mean text, not a BMP.
func TestSniffBMPReserved(t *testing.T) {
	tests := []struct {
		data string
		ok   bool
	}{
		{"BM\x00\x00\x00\x00\x00\x00\x00", true},      // 9 bytes: cannot check
		{"BM\x00\x00\x00\x00\x00\x00\x00\x00", true},  // 10, reserved zero
		{"BM\x00\x00\x00\x00\x01\x00\x00\x00", false}, // 10, reserved set
		{"BM\x00\x00\x00\x00\x00\x00\x00\x01", false},
		{"BM\x00\x00\x00\x00\x00\x00\x00\x00\x36", true},
	}
	for _, tt := range tests {
		if f, ok := Sniff([]byte(tt.data)); ok != tt.ok || (ok && f != FormatBMP) {
			t.Errorf("Sniff(%q) = %q, %v, want bmp %v", tt.data, f, ok, tt.ok)
		}
	}
}
