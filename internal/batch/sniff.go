package batch

import "github.com/mlserve/mlserve/internal/imageprep"

// hasImageExt reports whether key's extension names an image format.
func hasImageExt(key string) bool { return imageprep.HasImageExt(key) }

// isImage reports whether data starts with the signature of an image format
// mlserve decodes: JPEG, PNG, GIF, WebP, BMP or TIFF.
func isImage(data []byte) bool {
	_, ok := imageprep.Sniff(data)
	return ok
}
