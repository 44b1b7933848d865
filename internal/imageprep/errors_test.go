package imageprep

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// pngChunk encodes one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// pngHeader is a PNG signature and IHDR claiming a w x h RGB image, with no
// pixel data.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
}

func readImage(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures(tb), "images", name))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestPrepareErrorCodes(t *testing.T) {
	jpg := readImage(t, "scene-640x427-q90.jpg")
	progressive := readImage(t, "scene-800x600-progressive.jpg")
	pngData := readImage(t, "scene-500x375.png")
	gifData := readImage(t, "palette-256x256.gif")

	// A PNG whose first IDAT byte is flipped: the chunk CRC no longer matches.
	badCRC := bytes.Clone(pngData)
	badCRC[bytes.Index(badCRC, []byte("IDAT"))+4] ^= 0xff
	// A GIF whose LZW minimum code size (first byte after the image
	// descriptor) is out of range.
	badLZW := bytes.Clone(gifData)
	badLZW[bytes.IndexByte(badLZW[13+3*256:], 0x2C)+13+3*256+10] = 13

	// SOF0 claiming 60000x60000, one component, then SOS (without a JFIF
	// APP0 segment image/jpeg reads the header up to SOS).
	hugeJPEG := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0xEA, 0x60, 0xEA, 0x60, 1, 1, 0x11, 0,
		0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0}
	// GIF logical screen of 65535x65535.
	hugeGIF := []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00;")
	// SOF1 with 12-bit samples, which image/jpeg does not decode.
	jpeg12 := []byte{0xFF, 0xD8, 0xFF, 0xC1, 0, 11, 12, 0, 16, 0, 16, 1, 1, 0x11, 0}

	tests := []struct {
		name string
		data []byte
		code string
	}{
		{"empty", nil, CodeEmpty},
		{"empty slice", []byte{}, CodeEmpty},
		{"text", []byte("hello, this is not an image\n"), CodeNotImage},
		{"html", []byte("<!doctype html><html></html>"), CodeNotImage},
		{"one byte", []byte{0xFF}, CodeNotImage},
		{"zeros", make([]byte, 100), CodeNotImage},
		{"mp4", []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), CodeNotImage},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), CodeUnsupported},
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"), CodeUnsupported},
		{"ico", []byte("\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00\x01\x00\x20\x00"), CodeUnsupported},
		{"jpeg2000", []byte("\x00\x00\x00\x0cjP  \r\n\x87\n\x00\x00\x00\x14ftypjp2 "), CodeUnsupported},
		{"psd", []byte("8BPS\x00\x01\x00\x00\x00\x00\x00\x00"), CodeUnsupported},
		{"jpeg 12-bit", jpeg12, CodeUnsupported},
		{"jpeg too large", hugeJPEG, CodeTooLarge},
		{"png too large 100k x 100k", pngHeader(100_000, 100_000), CodeTooLarge},
		{"gif too large", hugeGIF, CodeTooLarge},
		{"png zero width", pngHeader(0, 10), CodeCorrupt},
		{"png bad crc", badCRC, CodeCorrupt},
		{"gif bad lzw", badLZW, CodeCorrupt},
		{"png header only", pngHeader(10, 10), CodeTruncated},
		{"png signature prefix", pngData[:4], CodeTruncated},
		// Issue 18 row 7: truncation is truncated however short, corrupt
		// data is corrupt (400) whatever the format.
		{"jpeg SOI only (2 bytes)", []byte{0xFF, 0xD8}, CodeTruncated},
		{"png first 2 bytes", pngData[:2], CodeTruncated},
		{"webp RIFF prefix (3 bytes)", []byte("RIF"), CodeTruncated},
		{"png signature and half an IHDR", pngData[:20], CodeTruncated},
		{"bmp zeroed info header", append([]byte("BM\x00\x00\x00\x00\x00\x00\x00\x00"), make([]byte, 40)...), CodeCorrupt},
		{"tiff unknown compression 54321", tiffWithCompression(54321), CodeCorrupt},
		{"tiff JPEG compression (7, real but not decoded)", tiffWithCompression(7), CodeUnsupported},
		{"tiff plain", tiffWithCompression(1), ""},
	}
	for _, data := range []struct {
		name string
		data []byte
	}{{"jpeg", jpg}, {"progressive jpeg", progressive}, {"png", pngData}, {"gif", gifData}} {
		for _, cut := range []int{3, 12, 40, 200, len(data.data) / 3, len(data.data) / 2, len(data.data) - 20, len(data.data) - 2} {
			tests = append(tests, struct {
				name string
				data []byte
				code string
			}{fmt.Sprintf("truncated %s at %d", data.name, cut), data.data[:cut], CodeTruncated})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]float32, 3*224*224)
			_, err := Prepare(tt.data, Config{}, dst)
			if got := Code(err); got != tt.code {
				t.Fatalf("Prepare: code %q (%v), want %q", got, err, tt.code)
			}
			if tt.code == "" {
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Err == nil {
				t.Fatalf("error %v is not an *Error with a cause", err)
			}
		})
	}
}

func TestMaxPixels(t *testing.T) {
	data := readImage(t, "tiny-60x45.png")
	dst := make([]float32, 3*224*224)
	for _, tt := range []struct {
		max  int
		code string
	}{
		{60 * 45, ""},
		{60*45 - 1, CodeTooLarge},
		{0, ""}, // default limit
	} {
		_, err := Prepare(data, Config{MaxPixels: tt.max}, dst)
		if got := Code(err); got != tt.code {
			t.Errorf("MaxPixels %d: code %q (%v), want %q", tt.max, got, err, tt.code)
		}
	}
}

func TestPrepareDstSize(t *testing.T) {
	data := readImage(t, "tiny-60x45.png")
	if _, err := Prepare(data, Config{}, make([]float32, 10)); err == nil || Code(err) != "" {
		t.Fatalf("Prepare with a short dst: %v, want a non-*Error error", err)
	}
}

// tiffWithCompression is a little-endian 16x16 8-bit gray TIFF, one
// uncompressed strip, whose Compression tag says comp.
func tiffWithCompression(comp uint16) []byte {
	const w, h, entries = 16, 16, 8
	dataOff := uint32(8 + 2 + entries*12 + 4)
	b := []byte("II*\x00")
	b = binary.LittleEndian.AppendUint32(b, 8)
	b = binary.LittleEndian.AppendUint16(b, entries)
	tag := func(id, typ uint16, v uint32) {
		b = binary.LittleEndian.AppendUint16(b, id)
		b = binary.LittleEndian.AppendUint16(b, typ)
		b = binary.LittleEndian.AppendUint32(b, 1)
		if typ == 3 {
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
			b = append(b, 0, 0)
		} else {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
	}
	tag(256, 3, w)            // ImageWidth
	tag(257, 3, h)            // ImageLength
	tag(258, 3, 8)            // BitsPerSample
	tag(259, 3, uint32(comp)) // Compression
	tag(262, 3, 1)            // PhotometricInterpretation: BlackIsZero
	tag(273, 4, dataOff)      // StripOffsets
	tag(278, 3, h)            // RowsPerStrip
	tag(279, 4, w*h)          // StripByteCounts
	b = binary.LittleEndian.AppendUint32(b, 0)
	return append(b, make([]byte, w*h)...)
}
