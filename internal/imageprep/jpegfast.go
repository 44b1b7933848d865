package imageprep

import (
	"errors"
	"fmt"
	"image"
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

// jpegSource decodes a JPEG with internal/jpeg: at full size when
// cfg.ExactResize, otherwise at the reduction the resize needs. ok is false
// (with a nil error) for JPEG variants that package does not decode: the
// caller then takes image/jpeg.
func jpegSource(data []byte, cfg Config) (src source, ok bool, err error) {
	hdr, err := jpeg.DecodeConfig(data)
	if err != nil {
		if isJPEGUnsupported(err) {
			return source{}, false, nil
		}
		return source{}, false, jpegError("header", err)
	}
	scale, err := jpegScaleFor(hdr, cfg)
	if err != nil {
		return source{}, false, err
	}
	img, ok, err := decodeJPEG(data, scale, cfg.MaxPixels)
	if !ok {
		return source{}, false, err
	}
	return newJPEGSource(img, hdr, scale, orientation(FormatJPEG, data)), true, nil
}

// jpegScaleFor checks a JPEG's header against cfg.MaxPixels and picks the
// reduction the resize needs (1 when cfg.ExactResize).
func jpegScaleFor(hdr jpeg.Config, cfg Config) (int, error) {
	if int64(hdr.Width)*int64(hdr.Height) > int64(cfg.MaxPixels) {
		return 0, &Error{Code: CodeTooLarge, Err: fmt.Errorf("jpeg image is %dx%d, more than %d pixels", hdr.Width, hdr.Height, cfg.MaxPixels)}
	}
	if cfg.ExactResize {
		return 1, nil
	}
	return jpegScale(hdr.Width, hdr.Height, max(cfg.ResizeShorter, cfg.Crop), jpegMargin), nil
}

// newJPEGSource is the source of a JPEG internal/jpeg decoded at scale.
func newJPEGSource(img image.Image, hdr jpeg.Config, scale, orient int) source {
	src := source{img: img, orient: orient, fullW: hdr.Width, fullH: hdr.Height, div: scale}
	if scale == 8 {
		// Every transform is 1x1: libjpeg-turbo replicates chroma then.
		src.ycc = yccJFIFReplicated
	}
	return src
}

// decodeJPEG decodes data with internal/jpeg at scale. ok is false, with a
// nil error, for the variants it does not decode.
func decodeJPEG(data []byte, scale, maxPixels int) (img image.Image, ok bool, err error) {
	img, err = jpeg.Decode(data, jpeg.Options{Scale: scale, MaxPixels: maxPixels})
	switch {
	case isJPEGUnsupported(err):
		return nil, false, nil
	case err != nil:
		return nil, false, jpegError("decode", err)
	}
	return img, true, nil
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
