package imageprep

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mlserve/mlserve/internal/jpeg"
)

// ErrNotStreamed is PrepareReader's error for an image it does not decode
// from a stream: cfg.ExactResize (before anything is read), or a JPEG
// variant internal/jpeg does not decode (the fallback decoder needs the
// whole data). The caller reads the input whole and calls Prepare.
var ErrNotStreamed = errors.New("imageprep: image not decodable from a stream")

// ReadError is PrepareReader's error when r fails: the data may be fine,
// so it is no *Error (not the image's fault) and a caller may retry.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "imageprep: read: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// PrepareReader is Prepare for a JPEG read from r as it decodes, through
// internal/jpeg's windows: its compressed data is never held whole. r
// holds a JPEG (Sniff). Once the headers are read, enter (nil: none) is
// called with the most bytes the decode holds at once (DecodeCost's
// estimate, with the stream's windows in place of the compressed data),
// and must return before the decode goes on; release is called when the
// decode's memory is garbage. Errors: *Error as Prepare's, *ReadError when
// r fails, ErrNotStreamed, or enter's.
func PrepareReader(r io.Reader, cfg Config, dst []float32, enter func(cost int64) (release func(), err error)) (Info, error) {
	cfg = cfg.withDefaults()
	if want := 3 * cfg.Crop * cfg.Crop; len(dst) != want {
		return Info{}, fmt.Errorf("imageprep: dst has %d elements, want %d", len(dst), want)
	}
	if cfg.ExactResize {
		return Info{}, ErrNotStreamed
	}
	start := time.Now()
	// The pixel limit is checked below, after the variants internal/jpeg
	// does not decode are known, in the order jpegSource takes.
	st, err := jpeg.NewStream(r, 0)
	if err != nil {
		return Info{}, streamError("header", err)
	}
	defer st.Close()
	hdr := st.Config()
	scale, err := jpegScaleFor(hdr, cfg)
	if err != nil {
		return Info{}, err
	}
	orient := orientation(FormatJPEG, st.Header())
	if enter != nil {
		cost := reducedJPEGCost(hdr.Width, hdr.Height, hdr.Components, hdr.Progressive, scale, orient, cfg) + streamWindows + fixedCost
		release, err := enter(cost)
		if err != nil {
			return Info{}, err
		}
		defer release()
	}
	img, err := st.Decode(jpeg.Options{Scale: scale, MaxPixels: cfg.MaxPixels})
	if err != nil {
		return Info{}, streamError("decode", err)
	}
	return finish(dst, newJPEGSource(img, hdr, scale, orient), FormatJPEG, cfg, start), nil
}

// streamWindows is what a jpeg.Stream holds of the compressed data: its
// input window (96 KiB) and the scans' unstuffing window (32 KiB).
const streamWindows = 128 << 10

// streamError maps a Stream's error: the reader's as *ReadError, the
// variants internal/jpeg does not decode as ErrNotStreamed, the rest as
// jpegError.
func streamError(stage string, err error) error {
	var re *jpeg.ReadError
	switch {
	case errors.As(err, &re):
		return &ReadError{Err: re.Err}
	case isJPEGUnsupported(err):
		return fmt.Errorf("%w: %w", ErrNotStreamed, err)
	}
	return jpegError(stage, err)
}
