// Package imageprep decodes images and turns them into the normalized CHW
// float32 tensors that ImageNet classifiers take, matching torchvision's
// Resize(256) + CenterCrop(224) + Normalize transform with PIL semantics.
//
// The pipeline follows what torchvision 0.14 does with a PIL image: the EXIF
// orientation is applied (ImageOps.exif_transpose), the image is converted
// to RGB (convert("RGB"): alpha dropped, not composited), its shorter side is
// resized to Config.ResizeShorter with the longer side
// int(ResizeShorter*long/short) using Pillow's antialiased bilinear filter
// in fixed point, the center Crop x Crop is taken at offset
// int(round((size-Crop)/2.0)), and each value v becomes
// (v/255 - mean) / std in float32. JPEG chroma is upsampled and converted
// with libjpeg-turbo's arithmetic.
//
// JPEGs are decoded by internal/jpeg, which computes libjpeg-turbo's
// integer inverse DCTs, so at full size the samples, and the tensor, are
// PIL's to the last level. Unless Config.ExactResize is set, a JPEG is
// decoded at the largest DCT reduction (1/2, 1/4, 1/8) that keeps its shorter side
// at least jpegMargin times the resize target, and the resize maps the
// full image's geometry onto the reduced pixels (Pillow's resample box),
// so the output has the same size and crop as the full-size path and is
// close to it; see jpegfast.go.
package imageprep

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
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

// ImageNet preprocessing defaults (torchvision's reference ImageNet
// transform, documented by the ONNX model zoo's ResNet models).
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Config says how to turn an image into a tensor. Zero fields take the
// ImageNet defaults: 256, 224, ImageNetMean and ImageNetStd (a zero Std is
// never valid, so it means "unset" and also selects the default Mean),
// DefaultMaxPixels.
type Config struct {
	ResizeShorter int        // shorter side is resized to this (256)
	Crop          int        // then center-cropped to Crop x Crop (224)
	Mean, Std     [3]float32 // per channel, applied to values scaled to [0,1]
	MaxPixels     int        // 0 means DefaultMaxPixels
	// ExactResize decodes JPEGs at full size, as torchvision does, instead
	// of at the DCT reduction the resize needs (1/2, 1/4 or 1/8): slower on
	// large photos, identical to the reference to the last level.
	ExactResize bool
}

func (c Config) withDefaults() Config {
	if c.ResizeShorter <= 0 {
		c.ResizeShorter = 256
	}
	if c.Crop <= 0 {
		c.Crop = 224
	}
	if c.Std == [3]float32{} {
		c.Std = ImageNetStd
		if c.Mean == [3]float32{} {
			c.Mean = ImageNetMean
		}
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	return c
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
// image.DecodeConfig before the image is decoded. Errors about the data are
// *Error; Prepare never panics on any input.
func Prepare(data []byte, cfg Config, dst []float32) (Info, error) {
	cfg = cfg.withDefaults()
	if want := 3 * cfg.Crop * cfg.Crop; len(dst) != want {
		return Info{}, fmt.Errorf("imageprep: dst has %d elements, want %d", len(dst), want)
	}
	start := time.Now()
	src, format, err := decodeSource(data, cfg)
	if err != nil {
		return Info{}, err
	}
	return finish(dst, src, format, cfg, start), nil
}

// finish writes the tensor of src, decoded since start, into dst and
// returns its Info.
func finish(dst []float32, src source, format string, cfg Config, start time.Time) Info {
	decoded := time.Now()
	w, h := src.size()
	tensor(dst, src, cfg)
	return Info{
		Width:          w,
		Height:         h,
		Format:         format,
		DecodeTime:     decoded.Sub(start),
		PreprocessTime: time.Since(decoded),
	}
}

// ToTensor writes the [3,Crop,Crop] tensor of an already decoded and
// oriented image into dst, which must have 3*Crop*Crop elements. YCbCr
// images are taken to be JPEG (full-range) samples.
func ToTensor(img image.Image, cfg Config, dst []float32) error {
	cfg = cfg.withDefaults()
	if want := 3 * cfg.Crop * cfg.Crop; len(dst) != want {
		return fmt.Errorf("imageprep: dst has %d elements, want %d", len(dst), want)
	}
	if img.Bounds().Empty() {
		return &Error{Code: CodeCorrupt, Err: errors.New("image has no pixels")}
	}
	tensor(dst, source{img: img, orient: 1}, cfg)
	return nil
}

// Decode sniffs the format of data from its magic bytes, checks the pixel
// count against maxPixels (0 means DefaultMaxPixels) with the format's
// DecodeConfig, and decodes it. JPEGs are decoded by internal/jpeg (the
// samples libjpeg-turbo gives), falling back to image/jpeg for the
// variants it lacks. The EXIF orientation is not applied.
func Decode(data []byte, maxPixels int) (img image.Image, format string, err error) {
	return decode(data, maxPixels, true)
}

// decode is Decode; tryJPEG false skips internal/jpeg (the caller has
// already found that it does not decode data).
func decode(data []byte, maxPixels int, tryJPEG bool) (img image.Image, format string, err error) {
	if len(data) == 0 {
		return nil, "", &Error{Code: CodeEmpty, Err: errors.New("no image data")}
	}
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	format, ok := Sniff(data)
	if !ok {
		if format != "" {
			return nil, format, &Error{Code: CodeUnsupported, Err: fmt.Errorf("%s images are not supported", format)}
		}
		return nil, "", &Error{Code: CodeNotImage, Err: errors.New("unknown image signature")}
	}
	if err := shortError(format, data); err != nil {
		return nil, format, err
	}
	dec := decoders[format]
	defer func() {
		if r := recover(); r != nil {
			img = nil
			err = &Error{Code: CodeCorrupt, Err: fmt.Errorf("%s decoder panicked: %v", format, r)}
		}
	}()
	cfg, err := dec.config(bytes.NewReader(data))
	if err != nil {
		return nil, format, classify(format, data, decodeError(format, "header", err))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, format, &Error{Code: CodeCorrupt, Err: fmt.Errorf("%s header: image is %dx%d", format, cfg.Width, cfg.Height)}
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, format, &Error{Code: CodeTooLarge, Err: fmt.Errorf("%s image is %dx%d, more than %d pixels", format, cfg.Width, cfg.Height, maxPixels)}
	}
	if format == FormatJPEG && tryJPEG {
		img, ok, err := decodeJPEG(data, 1, maxPixels)
		if ok || err != nil {
			return img, format, err
		}
	}
	img, err = dec.decode(bytes.NewReader(data))
	if err != nil {
		return nil, format, classify(format, data, decodeError(format, "decode", err))
	}
	if img.Bounds().Empty() {
		return nil, format, &Error{Code: CodeCorrupt, Err: fmt.Errorf("%s image has no pixels", format)}
	}
	return img, format, nil
}

type decoder struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var decoders = map[string]decoder{
	FormatJPEG: {jpeg.DecodeConfig, jpeg.Decode},
	FormatPNG:  {png.DecodeConfig, png.Decode},
	FormatGIF:  {gif.DecodeConfig, gif.Decode},
	FormatWebP: {webp.DecodeConfig, webp.Decode},
	FormatBMP:  {bmp.DecodeConfig, bmp.Decode},
	FormatTIFF: {tiff.DecodeConfig, tiff.Decode},
}

// decodeError classifies a decoder error as truncated or corrupt data, or
// an unsupported variant of a supported format.
func decodeError(format, stage string, err error) error {
	code := CodeCorrupt
	msg := err.Error()
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		// image/gif formats its errors with %s, losing io.ErrUnexpectedEOF,
		// image/png reports a short IDAT stream as "not enough pixel data"
		// and image/jpeg entropy-coded data that ends early as "short
		// Huffman data".
		strings.Contains(msg, "unexpected EOF"),
		strings.Contains(msg, "not enough pixel data"),
		strings.Contains(msg, "short Huffman data"),
		strings.Contains(msg, "not enough image data"):
		code = CodeTruncated
	case isUnsupported(err):
		code = CodeUnsupported
	}
	return &Error{Code: code, Err: fmt.Errorf("%s %s: %w", format, stage, err)}
}

// isUnsupported reports the decoders' "unsupported feature" errors (a valid
// file using a variant the Go decoder lacks, such as 12-bit JPEG).
func isUnsupported(err error) bool {
	var je jpeg.UnsupportedError
	var pe png.UnsupportedError
	var te tiff.UnsupportedError
	return errors.As(err, &je) || errors.As(err, &pe) || errors.As(err, &te) ||
		errors.Is(err, bmp.ErrUnsupported)
}

// scratch holds the per-call buffers, reused through a pool.
type scratch struct {
	raw, roi, tmp, row []byte
	rows               [][]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxPooledBytes bounds the buffers kept for reuse: the ones a huge image
// needed are left to the garbage collector.
const maxPooledBytes = 16 << 20

func (s *scratch) release() {
	for _, b := range []*[]byte{&s.raw, &s.roi, &s.tmp, &s.row} {
		if cap(*b) > maxPooledBytes {
			*b = nil
		}
	}
	scratchPool.Put(s)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// resizedSize is torchvision's _compute_resized_output_size for an int
// size: the shorter side becomes size, the longer int(size*long/short).
func resizedSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size) * float64(h) / float64(w))
	}
	return int(float64(size) * float64(w) / float64(h)), size
}

// cropOffset is torchvision's center_crop offset along one axis of n
// samples: int(round((n - crop) / 2.0)) with Python's round half to even,
// or, when the image is smaller than the crop and gets zero padding, minus
// the leading padding (crop - n) // 2.
func cropOffset(n, crop int) int {
	if crop > n {
		return -((crop - n) / 2)
	}
	return int(math.RoundToEven(float64(n-crop) / 2))
}

// tensor resizes, crops and normalizes src into dst ([3][crop][crop]).
func tensor(dst []float32, src source, cfg Config) {
	W, H := src.size()
	PW, PH := src.pixSize()
	crop := cfg.Crop
	// When the size does not change, torchvision returns the image as is,
	// and so do the passes below (needH and needV are false).
	nw, nh := resizedSize(W, H, cfg.ResizeShorter)
	left, top := cropOffset(nw, crop), cropOffset(nh, crop)
	// Output columns [c0,c1) and rows [r0,r1) of the resized image that
	// land in the crop; the rest of the crop is zero padding.
	c0, c1 := max(left, 0), min(left+crop, nw)
	r0, r1 := max(top, 0), min(top+crop, nh)

	var lut [3][256]float32
	for c := range 3 {
		for v := range 256 {
			// torchvision: ToTensor divides by 255, Normalize subtracts the
			// mean and divides by the std, all in float32.
			lut[c][v] = (float32(v)/255 - cfg.Mean[c]) / cfg.Std[c]
		}
	}
	plane := crop * crop
	if c1-c0 < crop || r1-r0 < crop {
		// torchvision pads with zeros (fill=0) before cropping.
		for c := range 3 {
			fill(dst[c*plane:(c+1)*plane], lut[c][0])
		}
	}

	sc := scratchPool.Get().(*scratch)
	defer sc.release()

	needH, needV := nw != PW || PW != W, nh != PH || PH != H
	var hc, vc *coeffs
	sx0, sx1 := c0, c1 // source columns used
	sy0, sy1 := r0, r1 // source rows used
	if needH {
		in0, n := src.box(false)
		hc = resampleCoeffs(PW, nw, c0, c1-c0, in0, n)
		sx0, sx1 = hc.start[0], hc.start[c1-c0-1]+hc.n[c1-c0-1]
	}
	if needV {
		in0, n := src.box(true)
		vc = resampleCoeffs(PH, nh, r0, r1-r0, in0, n)
		if cap(sc.rows) < vc.ksize {
			sc.rows = make([][]byte, 0, vc.ksize)
		}
		sy0, sy1 = vc.start[0], vc.start[r1-r0-1]+vc.n[r1-r0-1]
	}

	// The source region, oriented, as packed RGB; 8-bit RGBA pixels in
	// their stored orientation are read in place by the horizontal pass.
	rw, rh := sx1-sx0, sy1-sy0
	in, stride, bpp := inPlace(src.img, src.orient, needH, sx0, sy0)
	if in == nil {
		sc.roi = grow(sc.roi, rw*rh*3)
		if src.orient == 1 {
			toRGB(sc.roi, src.img, image.Rect(sx0, sy0, sx1, sy1), src.ycc, src.pal)
		} else {
			rx0, ry0, rx1, ry1 := rawRect(src.orient, PW, PH, sx0, sy0, sx1, sy1)
			sc.raw = grow(sc.raw, (rx1-rx0)*(ry1-ry0)*3)
			toRGB(sc.raw, src.img, image.Rect(rx0, ry0, rx1, ry1), src.ycc, src.pal)
			reorient(sc.roi, sc.raw, src.orient, PW, PH, sx0, sy0, sx1, sy1, rx0, ry0, rx1-rx0)
		}
		in, stride, bpp = sc.roi, rw*3, 3
	}

	// Horizontal pass.
	cw := c1 - c0
	rows := in
	if needH {
		sc.tmp = grow(sc.tmp, rh*cw*3)
		resizeRows(sc.tmp, in, rh, stride, bpp, sx0, hc)
		rows = sc.tmp
	}

	// Vertical pass, straight into the tensor.
	sc.row = grow(sc.row, cw*3)
	for r := r0; r < r1; r++ {
		var line []byte
		if needV {
			resizeColumn(sc.row, sc.rows, rows, cw, sy0, vc, r-r0)
			line = sc.row
		} else {
			line = rows[(r-sy0)*cw*3 : (r-sy0+1)*cw*3]
		}
		i := (r - top) * crop
		j0 := c0 - left
		d0 := dst[0*plane+i+j0:][:cw]
		d1 := dst[1*plane+i+j0:][:cw]
		d2 := dst[2*plane+i+j0:][:cw]
		for j := range cw {
			p := line[j*3 : j*3+3]
			d0[j] = lut[0][p[0]]
			d1[j] = lut[1][p[1]]
			d2[j] = lut[2][p[2]]
		}
	}
}

// inPlace returns the pixels of an *image.RGBA or *image.NRGBA from
// (x0, y0) on, its stride and 4 bytes per pixel, when the horizontal pass
// can read them without a packed RGB copy (no reorientation, a resize
// along x); otherwise nil.
func inPlace(img image.Image, orient int, needH bool, x0, y0 int) ([]byte, int, int) {
	if orient != 1 || !needH || img.Bounds().Min != (image.Point{}) {
		return nil, 0, 0
	}
	switch m := img.(type) {
	case *image.RGBA:
		return m.Pix[m.PixOffset(x0, y0):], m.Stride, 4
	case *image.NRGBA:
		return m.Pix[m.PixOffset(x0, y0):], m.Stride, 4
	}
	return nil, 0, 0
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}
