package client

import (
	"encoding/binary"
	"image"

	"github.com/mlserve/mlserve/internal/imageprep"
)

// orientation is the EXIF orientation (1-8) of a JPEG's APP1 Exif segment
// or a TIFF's IFD0, else 1.
//
// TODO: imageprep reads the same tag (and PNG/WebP's) unexported; export
// it there and drop this copy.
func orientation(format string, data []byte) int {
	var tiff []byte
	switch format {
	case imageprep.FormatJPEG:
		tiff = jpegExif(data)
	case imageprep.FormatTIFF:
		tiff = data
	}
	if o := tiffOrientation(tiff); o >= 1 && o <= 8 {
		return o
	}
	return 1
}

// jpegExif returns the TIFF structure of the first APP1 "Exif" segment
// before the image data.
func jpegExif(d []byte) []byte {
	for i := 2; i+4 <= len(d); {
		if d[i] != 0xff {
			return nil
		}
		m := d[i+1]
		if m == 0xff {
			i++
			continue
		}
		if m == 0xda || m == 0xd9 { // start of scan, end of image
			return nil
		}
		n := int(binary.BigEndian.Uint16(d[i+2:]))
		if n < 2 || i+2+n > len(d) {
			return nil
		}
		seg := d[i+4 : i+2+n]
		if m == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// tiffOrientation reads tag 0x0112 of IFD0, or 0.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(b[4:]))
	if off < 8 || off+2 > len(b) {
		return 0
	}
	n := int(bo.Uint16(b[off:]))
	for i := range n {
		e := off + 2 + 12*i
		if e+12 > len(b) {
			return 0
		}
		if bo.Uint16(b[e:]) == 0x0112 && bo.Uint16(b[e+2:]) == 3 { // SHORT
			return int(bo.Uint16(b[e+8:]))
		}
	}
	return 0
}

// orient returns m turned upright for EXIF orientation o.
func orient(m *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return m
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range h {
		for x := range w {
			var dx, dy int
			switch o {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // rotated 180
				dx, dy = w-1-x, h-1-y
			case 4: // mirrored vertically
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // rotated 90 clockwise
				dx, dy = h-1-y, x
			case 7: // transversed
				dx, dy = h-1-y, w-1-x
			case 8: // rotated 90 counter-clockwise
				dx, dy = y, w-1-x
			}
			si, di := m.PixOffset(x, y), out.PixOffset(dx, dy)
			copy(out.Pix[di:di+4], m.Pix[si:si+4])
		}
	}
	return out
}
