package imageprep

import (
	"errors"
	"fmt"
	"io"

	"github.com/mlserve/mlserve/internal/jpeg"
)

// jpegMargin is how far above the resize target the shorter side of a
// DCT-reduced JPEG stays: the largest reduction whose shorter side is at
// least jpegMargin*ResizeShorter is chosen. TestJPEGFastMatchesExact
// measures margins 1, 1.25 and 2 against the full-size decode (numbers in
// BENCHMARKS.md): a 12 MP photo at 1/8 (shorter side 378, 1.48x the
// target) is 0.011 mean, 0.16 max from the exact tensor, but a reduction
// that leaves a resize under 1.25x (768x576 at 1/2: 288 to 256) doubles
// that, so such images are decoded one step larger.
var jpegMargin = 1.25

// jpegScale picks the reduction for a w x h JPEG resized to shorter side
// target: 8, 4, 2 or 1.
func jpegScale(w, h, target int, margin float64) int {
	short := min(w, h)
	for _, s := range []int{8, 4, 2} {
		if float64((short+s-1)/s) >= margin*float64(target) {
			return s
		}
	}
	return 1
}

// decodeJPEGReduced decodes a JPEG with internal/jpeg at the reduction the
// resize needs. ok is false (with a nil error) when there is nothing to
// reduce, and for JPEG variants that package does not decode: the caller
// then takes the full-size path.
func decodeJPEGReduced(data []byte, cfg Config) (src source, ok bool, err error) {
	hdr, err := jpeg.DecodeConfig(data)
	if err != nil {
		if isJPEGUnsupported(err) {
			return source{}, false, nil
		}
		return source{}, false, jpegError("header", err)
	}
	if int64(hdr.Width)*int64(hdr.Height) > int64(cfg.MaxPixels) {
		return source{}, false, &Error{Code: CodeTooLarge, Err: fmt.Errorf("jpeg image is %dx%d, more than %d pixels", hdr.Width, hdr.Height, cfg.MaxPixels)}
	}
	scale := jpegScale(hdr.Width, hdr.Height, max(cfg.ResizeShorter, cfg.Crop), jpegMargin)
	if scale == 1 {
		// No reduction to gain: image/jpeg's full-size decode is faster
		// than internal/jpeg's generic 8x8 transform (BENCHMARKS.md).
		return source{}, false, nil
	}
	img, err := jpeg.Decode(data, jpeg.Options{Scale: scale, MaxPixels: cfg.MaxPixels})
	if err != nil {
		if isJPEGUnsupported(err) {
			return source{}, false, nil
		}
		return source{}, false, jpegError("decode", err)
	}
	return source{
		img:    img,
		orient: orientation(FormatJPEG, data),
		fullW:  hdr.Width,
		fullH:  hdr.Height,
		div:    scale,
	}, true, nil
}

func isJPEGUnsupported(err error) bool {
	var ue jpeg.UnsupportedError
	return errors.As(err, &ue)
}

// jpegError maps an internal/jpeg error to an *Error code.
func jpegError(stage string, err error) error {
	code := CodeCorrupt
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		code = CodeTruncated
	case errors.Is(err, jpeg.ErrTooLarge):
		code = CodeTooLarge
	}
	return &Error{Code: code, Err: fmt.Errorf("jpeg %s: %w", stage, err)}
}

// jpegConfig is the JPEG header's size.
func jpegConfig(data []byte) (jpeg.Config, error) { return jpeg.DecodeConfig(data) }
