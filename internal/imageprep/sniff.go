package imageprep

import (
	"bytes"
	"path"
	"strings"
)

// Format names reported in Info.Format.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatGIF  = "gif"
	FormatWebP = "webp"
	FormatBMP  = "bmp"
	FormatTIFF = "tiff"
)

// Sniff names the image format of data from its leading magic bytes. ok is
// false when the data is not an image mlserve decodes; format is then the
// name of a recognized but unsupported format (such as "heic" or "ico"), or
// "" when the signature is unknown. Data that ends inside a signature (at
// least 3 bytes of it) is taken to be that format, so that decoding reports
// it as truncated.
func Sniff(data []byte) (format string, ok bool) {
	if len(data) >= 3 {
		for _, s := range []struct{ sig, format string }{
			{"\x89PNG\r\n\x1a\n", FormatPNG},
			{"GIF87a", FormatGIF},
			{"GIF89a", FormatGIF},
			{"RIFF", FormatWebP},
			{"II*\x00", FormatTIFF},
			{"MM\x00*", FormatTIFF},
		} {
			if len(data) < len(s.sig) && s.sig[:len(data)] == string(data) {
				return s.format, true
			}
		}
		if len(data) < 12 && bytes.HasPrefix(data, []byte("RIFF")) {
			return FormatWebP, true
		}
	}
	// Two bytes of a binary signature no text starts with (JPEG's SOI
	// marker, PNG's first two): a file cut that short is truncated too.
	if len(data) == 2 && (string(data) == "\xFF\xD8" || string(data) == "\x89P") {
		if data[0] == 0xFF {
			return FormatJPEG, true
		}
		return FormatPNG, true
	}
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return FormatJPEG, true
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return FormatPNG, true
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return FormatGIF, true
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return FormatWebP, true
	case len(data) >= 3 && data[0] == 'B' && data[1] == 'M':
		// "BM" alone is too weak a signature for text input; also require
		// the reserved header fields to be zero, as every BMP writer does.
		if len(data) < 10 || data[6]|data[7]|data[8]|data[9] == 0 {
			return FormatBMP, true
		}
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return FormatTIFF, true
	}
	return unsupportedFormat(data), false
}

// unsupportedFormat names well-known image signatures that mlserve does not
// decode, or returns "".
func unsupportedFormat(data []byte) string {
	if len(data) >= 12 && string(data[4:8]) == "ftyp" {
		switch string(data[8:12]) {
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1":
			return "heic"
		case "avif", "avis":
			return "avif"
		case "crx ":
			return "cr3"
		}
		return ""
	}
	sigs := []struct {
		prefix string
		name   string
	}{
		{"\x00\x00\x01\x00", "ico"},
		{"\x00\x00\x02\x00", "cur"},
		{"\x00\x00\x00\x0cjP  \r\n\x87\n", "jpeg2000"},
		{"\xff\x4f\xff\x51", "jpeg2000"},
		{"\xff\x0a", "jpegxl"},
		{"\x00\x00\x00\x0cJXL \r\n\x87\n", "jpegxl"},
		{"II+\x00", "bigtiff"},
		{"MM\x00+", "bigtiff"},
		{"8BPS", "psd"},
		{"qoif", "qoi"},
		{"icns", "icns"},
		{"DDS ", "dds"},
		{"\x76\x2f\x31\x01", "openexr"},
		{"#?RADIANCE", "hdr"},
		{"\x8aMNG\r\n\x1a\n", "mng"},
		{"FLIF", "flif"},
		{"BPG\xfb", "bpg"},
	}
	for _, s := range sigs {
		if bytes.HasPrefix(data, []byte(s.prefix)) {
			return s.name
		}
	}
	return ""
}

// imageExts are the file name endings of the formats mlserve decodes.
var imageExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".jpe": true, ".jfif": true,
	".png": true, ".gif": true, ".webp": true, ".bmp": true,
	".tif": true, ".tiff": true,
}

// HasImageExt reports whether a file name or key ends in the extension of a
// format mlserve decodes (case-insensitive). Listings use it to pick inputs;
// the bytes still decide the format.
func HasImageExt(name string) bool {
	return imageExts[strings.ToLower(path.Ext(name))]
}
