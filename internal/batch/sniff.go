package batch

import (
	"bytes"
	"path"
	"strings"
)

// imageExts are the file extensions taken as images (lower case).
var imageExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".jpe": true, ".jfif": true,
	".png": true, ".gif": true, ".webp": true, ".bmp": true,
	".tif": true, ".tiff": true,
}

// hasImageExt reports whether key's extension names an image format.
func hasImageExt(key string) bool {
	return imageExts[strings.ToLower(path.Ext(key))]
}

// isImage reports whether data starts with the signature of an image
// format: JPEG, PNG, GIF, WebP, BMP or TIFF.
func isImage(data []byte) bool {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}),
		bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")),
		bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")),
		bytes.HasPrefix(data, []byte("BM")),
		bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return true
	case len(data) >= 12 && bytes.Equal(data[:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WEBP")):
		return true
	}
	return false
}
