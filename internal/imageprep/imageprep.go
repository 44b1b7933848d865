// Package imageprep decodes images and turns them into the normalized CHW
// float32 tensors that ImageNet classifiers take, matching torchvision's
// Resize(256) + CenterCrop(224) + Normalize transform with PIL semantics.
package imageprep

import (
	"errors"
	"fmt"
	"time"
)

// Error codes carried by *Error. They are stable: adapters map them to HTTP
// statuses, exit codes and failure records.
const (
	CodeEmpty       = "empty"              // zero bytes
	CodeNotImage    = "not_an_image"       // no known image signature
	CodeUnsupported = "unsupported_format" // an image format mlserve does not decode
	CodeTruncated   = "truncated"          // data ends early
	CodeCorrupt     = "corrupt"            // decoder rejected the data
	CodeTooLarge    = "too_large"          // more pixels than allowed
)

// Error is a problem with one input image.
type Error struct {
	Code string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Code, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Code returns the *Error code in err's chain, or "" when there is none.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// DefaultMaxPixels is the default limit on width*height, checked before decoding.
const DefaultMaxPixels = 50_000_000

// Config says how to turn an image into a tensor.
type Config struct {
	ResizeShorter int        // shorter side is resized to this (256)
	Crop          int        // then center-cropped to Crop x Crop (224)
	Mean, Std     [3]float32 // per channel, applied to values scaled to [0,1]
	MaxPixels     int        // 0 means DefaultMaxPixels
}

// Info describes a decoded image, after EXIF orientation.
type Info struct {
	Width, Height int
	Format        string // "jpeg", "png", "gif", "webp", "bmp", "tiff"
	// DecodeTime and PreprocessTime are how long each stage took.
	DecodeTime, PreprocessTime time.Duration
}

// Prepare decodes data and writes the [3,Crop,Crop] tensor into dst, which
// must have 3*Crop*Crop elements. The pixel limit is checked with
// image.DecodeConfig before the image is decoded.
func Prepare(data []byte, cfg Config, dst []float32) (Info, error) {
	return Info{}, &Error{Code: CodeUnsupported, Err: errors.New("imageprep: not implemented yet")}
}
