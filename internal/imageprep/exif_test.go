package imageprep

import (
	"encoding/binary"
	"slices"
	"testing"
)

// ifd0 is a TIFF structure whose IFD0 holds `before` SHORT entries with
// tags below 0x0112, then the Orientation entry of type typ (3 SHORT, 4
// LONG, 1 BYTE) and value o, then one entry above it. Written from TIFF 6.0
// section 2, independently of exif.go.
func ifd0(bo byteOrder, o uint32, typ uint16, before int) []byte {
	b := []byte("II*\x00")
	if bo == binary.BigEndian {
		b = []byte("MM\x00*")
	}
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, uint16(before+2))
	entry := func(tag, typ uint16, v uint32) {
		b = bo.AppendUint16(b, tag)
		b = bo.AppendUint16(b, typ)
		b = bo.AppendUint32(b, 1)
		switch typ {
		case 1:
			b = append(b, byte(v), 0, 0, 0)
		case 3:
			b = append(bo.AppendUint16(b, uint16(v)), 0, 0)
		default:
			b = bo.AppendUint32(b, v)
		}
	}
	for i := range before {
		entry(uint16(0x0100+i), 3, 9)
	}
	entry(0x0112, typ, o)
	entry(0x0131, 3, 5) // Software, after it
	return bo.AppendUint32(b, 0)
}

// inJPEG puts a TIFF structure in an APP1 Exif segment after an APP0 and
// a COM segment (and fill bytes), as cameras write it.
func inJPEG(tiff []byte) []byte {
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	b := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 6, 'J', 'F', 'I', 'F', 0xff, 0xff, 0xfe, 0, 3, 'x'}
	b = append(b, 0xff, 0xe1, byte((len(app1)+2)>>8), byte(len(app1)+2))
	b = append(b, app1...)
	return append(b, 0xff, 0xda, 0, 2)
}

// inPNG puts it in an eXIf chunk after IHDR (CRCs are not checked here).
func inPNG(tiff []byte) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(binary.BigEndian.AppendUint32(b, 13), "IHDR"...)
	b = append(b, make([]byte, 13+4)...)
	b = append(binary.BigEndian.AppendUint32(b, uint32(len(tiff))), "eXIf"...)
	b = append(b, tiff...)
	return append(b, 0, 0, 0, 0)
}

// inWebP puts it in an EXIF chunk after VP8X and an odd-sized chunk (the
// RIFF padding byte).
func inWebP(tiff []byte) []byte {
	chunk := func(id string, p []byte) []byte {
		c := binary.LittleEndian.AppendUint32([]byte(id), uint32(len(p)))
		c = append(c, p...)
		if len(p)%2 == 1 {
			c = append(c, 0)
		}
		return c
	}
	body := append([]byte("WEBP"), chunk("VP8X", make([]byte, 10))...)
	body = append(body, chunk("ICCP", []byte("odd"))...)
	body = append(body, chunk("EXIF", append([]byte("Exif\x00\x00"), tiff...))...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// TestOrientationContainers writes orientations into each container, byte
// order, entry type and position, and reads them back: 1 to 8 as
// written, anything else (0, 9, 0x0106) as 1.
func TestOrientationContainers(t *testing.T) {
	wrap := map[string]func([]byte) []byte{
		FormatJPEG: inJPEG, FormatPNG: inPNG, FormatWebP: inWebP, FormatTIFF: func(b []byte) []byte { return b },
	}
	for format, in := range wrap {
		for _, bo := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
			for _, typ := range []uint16{3, 4, 1} {
				for _, before := range []int{0, 3} {
					for _, o := range []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0106} {
						if typ == 1 && o > 255 {
							continue // a BYTE cannot hold it
						}
						want := int(o)
						if o < 1 || o > 8 {
							want = 1
						}
						data := in(ifd0(bo, o, typ, before))
						if got := Orientation(format, data); got != want {
							t.Errorf("%s %v type %d, %d entries before: orientation %d reads %d, want %d", format, bo, typ, before, o, got, want)
						}
					}
				}
			}
		}
	}
}

// TestOrientationMalformed: cut or broken structures read as 1 and never
// panic, at every truncation point.
func TestOrientationMalformed(t *testing.T) {
	good := ifd0(binary.LittleEndian, 6, 3, 2)
	for format, data := range map[string][]byte{
		FormatJPEG: inJPEG(good), FormatPNG: inPNG(good), FormatWebP: inWebP(good), FormatTIFF: good,
	} {
		if o := Orientation(format, data); o != 6 {
			t.Fatalf("%s: whole structure reads %d, want 6", format, o)
		}
		for n := range len(data) {
			// Clipped: a read past the cut must fail, not find the bytes
			// that follow in the same array.
			if o := Orientation(format, slices.Clip(data[:n])); o != 1 && o != 6 {
				t.Errorf("%s cut at %d: %d", format, n, o)
			}
		}
	}
	tests := []struct {
		name string
		tiff []byte
	}{
		{"no magic", append([]byte("XX*\x00"), good[4:]...)},
		{"IFD offset past the end", append(append([]byte{}, good[:4]...), 0xff, 0, 0, 0)},
		{"IFD offset inside the header", append(append([]byte{}, good[:4]...), 4, 0, 0, 0)},
		{"count 0", func() []byte { b := append([]byte{}, good...); b[8+2+12*2+4] = 0; return b }()},
		{"type 2 (ASCII)", func() []byte { b := append([]byte{}, good...); b[8+2+12*2+2] = 2; return b }()},
		{"entry count past the end", func() []byte { b := append([]byte{}, good[:8+2+12]...); b[8] = 200; return b }()},
	}
	for _, tt := range tests {
		for format, in := range map[string]func([]byte) []byte{FormatJPEG: inJPEG, FormatTIFF: func(b []byte) []byte { return b }} {
			if o := Orientation(format, in(tt.tiff)); o != 1 {
				t.Errorf("%s %s: orientation %d, want 1", format, tt.name, o)
			}
		}
	}
	// A JPEG whose first APP1 is not Exif, and one with the scan before it.
	xmp := []byte{0xff, 0xd8, 0xff, 0xe1, 0, 8, 'h', 't', 't', 'p', ':', '/'}
	if o := Orientation(FormatJPEG, append(xmp, inJPEG(good)[2:]...)); o != 6 {
		t.Errorf("XMP APP1 before the Exif one: %d, want 6", o)
	}
	scanFirst := append([]byte{0xff, 0xd8, 0xff, 0xda, 0, 2}, inJPEG(good)[2:]...)
	if o := Orientation(FormatJPEG, scanFirst); o != 1 {
		t.Errorf("Exif after the scan: %d, want 1", o)
	}
	// Other formats carry no orientation.
	if o := Orientation(FormatGIF, good); o != 1 {
		t.Errorf("GIF: %d", o)
	}
}

func TestOrientedSizeAndRect(t *testing.T) {
	for o := 1; o <= 8; o++ {
		w, h := orientedSize(o, 7, 3)
		if (o >= 5) != (w == 3 && h == 7) || (o < 5) != (w == 7 && h == 3) {
			t.Errorf("orientation %d: %dx%d", o, w, h)
		}
	}
}
