// Package jpeg decodes baseline and progressive JPEG images (ITU-T T.81,
// Huffman coding, 8-bit samples) at 1/1, 1/2, 1/4 or 1/8 of their size.
//
// A reduced size comes straight out of the inverse DCT: each 8x8 block of
// coefficients becomes an NxN block of pixels (N = 8, 4, 2 or 1; at 1/8 the
// DC coefficient alone), so a 12 MP photo decoded at 1/8 never exists at
// full size. Only the coefficients the chosen transform uses are kept, and
// chroma that is subsampled 2x2 is decoded with a transform twice as large,
// as libjpeg-turbo does, so that it needs no upsampling.
//
// Decode reads the whole file from memory; a Stream reads it from an
// io.Reader through a window of 96 KiB, so that a large photo is never held
// whole. Images come back as
// *image.Gray (one component), *image.YCbCr (three, not upsampled: the
// subsample ratio says how) or *image.CMYK (Adobe four-component CMYK or
// YCCK, with the standard library's conventions). Variants it does not
// decode (arithmetic coding, lossless, 12-bit, RGB-coded JPEGs, unusual
// sampling factors) are UnsupportedError, so a caller can fall back to
// another decoder.
package jpeg

import (
	"errors"
	"fmt"
	"image"
	"io"
)

// FormatError reports data that is not a valid JPEG.
type FormatError string

func (e FormatError) Error() string { return "jpeg: invalid format: " + string(e) }

// UnsupportedError reports a valid JPEG that uses a feature this decoder
// lacks.
type UnsupportedError string

func (e UnsupportedError) Error() string { return "jpeg: unsupported feature: " + string(e) }

// ErrTooLarge is wrapped by the error Decode returns for an image with more
// pixels than Options.MaxPixels.
var ErrTooLarge = errors.New("jpeg: image too large")

// errTruncated is the error for data that ends early; it wraps
// io.ErrUnexpectedEOF.
func errTruncated(what string) error {
	return fmt.Errorf("jpeg: %s: %w", what, io.ErrUnexpectedEOF)
}

// Config is what the header says about an image.
type Config struct {
	Width, Height int
	Components    int  // 1 (gray), 3 (YCbCr) or 4 (CMYK/YCCK)
	Progressive   bool // SOF2
}

// Options control Decode.
type Options struct {
	// Scale is the reduction: 1, 2, 4 or 8 (0 means 1). The output is
	// ceil(Width/Scale) x ceil(Height/Scale).
	Scale int
	// MaxPixels, when positive, is the largest Width*Height Decode accepts;
	// it is checked from the header before any pixel is decoded.
	MaxPixels int
}

// DecodeConfig parses the header of data up to the frame header.
func DecodeConfig(data []byte) (Config, error) {
	d := decoder{in: input{data: data}}
	defer d.release()
	if err := d.readHeaders(true); err != nil {
		return Config{}, err
	}
	return Config{Width: d.width, Height: d.height, Components: d.ncomp, Progressive: d.progressive}, nil
}

// Decode decodes data at the given scale.
func Decode(data []byte, opts Options) (image.Image, error) {
	scale, err := checkScale(opts.Scale)
	if err != nil {
		return nil, err
	}
	d := decoder{in: input{data: data}, scale: scale, maxPixels: opts.MaxPixels}
	defer d.release()
	if err := d.readHeaders(false); err != nil {
		return nil, err
	}
	return d.output()
}

// checkScale is Options.Scale, 0 meaning 1.
func checkScale(scale int) (int, error) {
	if scale == 0 {
		scale = 1
	}
	if scale != 1 && scale != 2 && scale != 4 && scale != 8 {
		return 0, fmt.Errorf("jpeg: scale %d: want 1, 2, 4 or 8", scale)
	}
	return scale, nil
}

// ScaledSize is the size Decode returns for a w x h image at scale.
func ScaledSize(w, h, scale int) (int, int) {
	return (w + scale - 1) / scale, (h + scale - 1) / scale
}
