package imageprep

import (
	"bytes"
	"encoding/binary"
)

// Orientation returns the EXIF orientation (1-8) stored in data, in the
// given format (a Format* constant), or 1 when there is none or it is
// invalid: what Prepare applies, for clients that turn an image upright
// themselves.
func Orientation(format string, data []byte) int { return orientation(format, data) }

// orientation returns the EXIF orientation (1-8) stored in data, or 1 when
// there is none or it is invalid. It reads JPEG APP1 "Exif" segments, PNG
// eXIf chunks, WebP EXIF chunks and TIFF IFD0, the places where PIL's
// ImageOps.exif_transpose finds it.
func orientation(format string, data []byte) int {
	var tiff []byte
	switch format {
	case FormatJPEG:
		tiff = jpegExif(data)
	case FormatPNG:
		tiff = pngExif(data)
	case FormatWebP:
		tiff = webpExif(data)
	case FormatTIFF:
		tiff = data
	}
	if o := tiffOrientation(tiff); o >= 1 && o <= 8 {
		return o
	}
	return 1
}

// jpegExif returns the TIFF structure of the first APP1 Exif segment.
func jpegExif(data []byte) []byte {
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return nil
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 {
			i += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan or end: no more headers
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// pngExif returns the payload of the eXIf chunk.
func pngExif(data []byte) []byte {
	i := 8
	for i+8 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if n < 0 || n > len(data)-i-12 {
			return nil
		}
		switch typ {
		case "eXIf":
			return data[i+8 : i+8+n]
		case "IDAT", "IEND":
			return nil
		}
		i += 12 + n
	}
	return nil
}

// webpExif returns the payload of the EXIF chunk of an extended WebP.
func webpExif(data []byte) []byte {
	i := 12
	for i+8 <= len(data) {
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return nil
		}
		if string(data[i:i+4]) == "EXIF" {
			return bytes.TrimPrefix(data[i+8:i+8+n], []byte("Exif\x00\x00"))
		}
		i += 8 + n + n&1
	}
	return nil
}

// tiffOrientation reads tag 0x0112 of IFD0 of a TIFF structure, or returns 0.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int64(bo.Uint32(b[4:]))
	if off < 8 || off+2 > int64(len(b)) {
		return 0
	}
	n := int64(bo.Uint16(b[off:]))
	for e := off + 2; e+12 <= int64(len(b)) && n > 0; e, n = e+12, n-1 {
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		typ, count := bo.Uint16(b[e+2:]), bo.Uint32(b[e+4:])
		if count < 1 {
			return 0
		}
		switch typ {
		case 3: // SHORT
			return int(bo.Uint16(b[e+8:]))
		case 4: // LONG
			return int(bo.Uint32(b[e+8:]))
		case 1: // BYTE, written by a few tools
			return int(b[e+8])
		}
		return 0
	}
	return 0
}

// orientedSize returns the width and height after applying orientation o to
// a w x h image.
func orientedSize(o, w, h int) (int, int) {
	if o >= 5 {
		return h, w
	}
	return w, h
}

// rawRect maps the rectangle [x0,x1)x[y0,y1) of the oriented image (size
// ow x oh) to the rectangle of the stored image that holds the same pixels.
func rawRect(o, ow, oh, x0, y0, x1, y1 int) (rx0, ry0, rx1, ry1 int) {
	// Each orientation maps oriented (x, y) to raw (u, v); see rawPoint.
	ax, ay := rawPoint(o, ow, oh, x0, y0)
	bx, by := rawPoint(o, ow, oh, x1-1, y1-1)
	return min(ax, bx), min(ay, by), max(ax, bx) + 1, max(ay, by) + 1
}

// rawPoint maps pixel (x, y) of the oriented image (size ow x oh) to the
// pixel of the stored image it comes from. The orientations follow PIL's
// exif_transpose: 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate
// 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
func rawPoint(o, ow, oh, x, y int) (int, int) {
	switch o {
	case 2:
		return ow - 1 - x, y
	case 3:
		return ow - 1 - x, oh - 1 - y
	case 4:
		return x, oh - 1 - y
	case 5:
		return y, x
	case 6:
		return y, ow - 1 - x
	case 7:
		return oh - 1 - y, ow - 1 - x
	case 8:
		return oh - 1 - y, x
	}
	return x, y
}

// reorient copies the oriented region [x0,x1)x[y0,y1) of an image whose
// oriented size is ow x oh out of raw, which holds the stored pixels of the
// rectangle starting at (rx0, ry0), rawW pixels wide.
func reorient(dst, raw []byte, o, ow, oh, x0, y0, x1, y1, rx0, ry0, rawW int) {
	w := x1 - x0
	for y := y0; y < y1; y++ {
		out := dst[(y-y0)*w*3:][:w*3]
		for x := x0; x < x1; x++ {
			u, v := rawPoint(o, ow, oh, x, y)
			i := ((v-ry0)*rawW + (u - rx0)) * 3
			p := raw[i : i+3]
			q := out[(x-x0)*3 : (x-x0)*3+3]
			q[0], q[1], q[2] = p[0], p[1], p[2]
		}
	}
}
