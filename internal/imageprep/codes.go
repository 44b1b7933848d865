package imageprep

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// minHeader is the fewest bytes a file of each format holds before its
// first pixel: anything shorter was cut, whatever its decoder says of it
// ("missing RIFF chunk header" for a 3-byte "RIF", "unknown image
// signature" for a 2-byte FF D8).
var minHeader = map[string]int{
	FormatJPEG: 4,  // SOI and the next marker
	FormatPNG:  33, // signature and IHDR
	FormatGIF:  13, // header and logical screen descriptor
	FormatWebP: 20, // RIFF header and the first chunk's header
	FormatBMP:  18, // file header and the info header's size
	FormatTIFF: 8,  // byte order, magic and the first IFD's offset
}

// shortError is the truncated *Error of data shorter than its format's
// smallest header, or nil.
func shortError(format string, data []byte) error {
	if n, ok := minHeader[format]; ok && len(data) < n {
		return &Error{Code: CodeTruncated, Err: fmt.Errorf("%s: %d bytes, cut before the end of the header (%d bytes at least)", format, len(data), n)}
	}
	return nil
}

// corruptVariant reports an "unsupported" decoder error that comes from
// values no writer produces (a mutated or damaged file) rather than from a
// real variant the decoder lacks: the file is corrupt (400), not in an
// unsupported format (415). Read from the header: BMP's info header size,
// bit depth and compression, TIFF's compression code.
func corruptVariant(format string, data []byte, err error) bool {
	switch format {
	case FormatBMP:
		if len(data) < 18 {
			return true
		}
		size := binary.LittleEndian.Uint32(data[14:18])
		if !slices.Contains([]uint32{12, 16, 40, 52, 56, 64, 108, 124}, size) {
			return true
		}
		if size < 40 || len(data) < 34 {
			return false
		}
		bpp := binary.LittleEndian.Uint16(data[28:30])
		comp := binary.LittleEndian.Uint32(data[30:34])
		return !slices.Contains([]uint16{0, 1, 2, 4, 8, 16, 24, 32, 64}, bpp) ||
			!slices.Contains([]uint32{0, 1, 2, 3, 4, 5, 6, 11, 12, 13}, comp)
	case FormatTIFF:
		// image/tiff: UnsupportedError("compression value N").
		_, after, ok := strings.Cut(err.Error(), "compression value ")
		if !ok {
			return false
		}
		n, perr := strconv.Atoi(strings.Fields(after + " ")[0])
		return perr != nil || !slices.Contains(tiffCompressions, n)
	}
	return false
}

// tiffCompressions are the registered TIFF compression codes (TIFF 6.0,
// its technical notes and the codes libtiff knows).
var tiffCompressions = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 32766, 32771, 32773, 32809, 32895, 32896,
	32897, 32898, 32908, 32909, 32946, 33003, 33005, 34661, 34676, 34677, 34692, 34712, 34887,
	34925, 34926, 34927, 34933, 34934, 50000, 50001, 50002, 50003}

// classify turns an unsupported_format *Error of a corrupt file into a
// corrupt one.
func classify(format string, data []byte, err error) error {
	if e, ok := err.(*Error); ok && e.Code == CodeUnsupported && corruptVariant(format, data, e.Err) {
		e.Code = CodeCorrupt
	}
	return err
}
