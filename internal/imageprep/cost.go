package imageprep

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
)

// DecodeCost estimates the most bytes Prepare holds at once for data, from
// its header alone (nothing is decoded): the decoded pixels (width x
// height x the bytes per pixel of the image the decoder returns, at the
// DCT reduction for a JPEG the fast path reduces), the packed RGB copy the
// resize reads when it cannot read the pixels in place, the resize's
// intermediate rows and a copy of the compressed data. Callers admit
// decodes against a memory budget with it. It errs on the high side:
// 4:4:4 for any YCbCr JPEG, and the coefficients a progressive JPEG keeps.
// The error is the header's, as *Error: the one Prepare returns for data
// without a known signature, with a bad header or over cfg.MaxPixels.
func DecodeCost(data []byte, cfg Config) (int64, error) {
	cfg = cfg.withDefaults()
	if len(data) == 0 {
		return 0, &Error{Code: CodeEmpty, Err: errors.New("no image data")}
	}
	format, ok := Sniff(data)
	if !ok {
		if format != "" {
			return 0, &Error{Code: CodeUnsupported, Err: fmt.Errorf("%s images are not supported", format)}
		}
		return 0, &Error{Code: CodeNotImage, Err: errors.New("unknown image signature")}
	}
	orient := orientation(format, data)
	if format == FormatJPEG && !cfg.ExactResize {
		if hdr, err := jpegConfig(data); err == nil {
			if int64(hdr.Width)*int64(hdr.Height) > int64(cfg.MaxPixels) {
				return 0, &Error{Code: CodeTooLarge, Err: fmt.Errorf("jpeg image is %dx%d, more than %d pixels", hdr.Width, hdr.Height, cfg.MaxPixels)}
			}
			if s := jpegScale(hdr.Width, hdr.Height, max(cfg.ResizeShorter, cfg.Crop), jpegMargin); s > 1 {
				// internal/jpeg unstuffs each scan through a window of its
				// own (32 KiB), not a copy of the scan.
				return reducedJPEGCost(hdr.Width, hdr.Height, hdr.Components, hdr.Progressive, s, orient, cfg) + int64(len(data)) + 32<<10 + fixedCost, nil
			}
		}
	}
	ic, err := decoders[format].config(bytes.NewReader(data))
	if err != nil {
		return 0, decodeError(format, "header", err)
	}
	if ic.Width <= 0 || ic.Height <= 0 {
		return 0, &Error{Code: CodeCorrupt, Err: fmt.Errorf("%s header: image is %dx%d", format, ic.Width, ic.Height)}
	}
	if int64(ic.Width)*int64(ic.Height) > int64(cfg.MaxPixels) {
		return 0, &Error{Code: CodeTooLarge, Err: fmt.Errorf("%s image is %dx%d, more than %d pixels", format, ic.Width, ic.Height, cfg.MaxPixels)}
	}
	bpp := bytesPerPixel(ic.ColorModel)
	px := int64(ic.Width) * int64(ic.Height)
	cost := px*bpp + workCost(ic.Width, ic.Height, orient, !inPlaceModel(ic.ColorModel), cfg)
	switch format {
	case FormatPNG:
		if pngInterlaced(data) {
			cost += px * bpp // each Adam7 pass is its own image, merged into the whole
		}
	case FormatJPEG:
		// image/jpeg keeps every block of a progressive file as 64 int32
		// (4 bytes per pixel and component), and decodes CMYK into planes
		// before it converts them.
		if hdr, err := jpegConfig(data); err == nil && hdr.Progressive {
			cost += px * 4 * int64(max(hdr.Components, 1))
		}
		if ic.ColorModel == color.CMYKModel {
			cost += px * 4
		}
	}
	return cost + int64(len(data)) + fixedCost, nil
}

// fixedCost is what a decode allocates whatever the size: Huffman and
// quantization tables, zlib's window, readers' buffers (86-100 KB
// measured for a 60x45 PNG).
const fixedCost = 256 << 10

// reducedJPEGCost is the fast path's: planes of ceil(w/s) x ceil(h/s) per
// component, and for a progressive file the kept coefficients of every
// block (int16 each and a 64-bit mask): the coefficients libjpeg-turbo's
// reduced transforms read, 49 at 1/2 and 25 at 1/4; at 1/8 the luma keeps
// its DC alone but subsampled chroma runs at 1/4 and keeps 25, so 25 is
// taken for every component there.
func reducedJPEGCost(w, h, comps int, progressive bool, s, orient int, cfg Config) int64 {
	comps = max(comps, 1)
	rw, rh := (w+s-1)/s, (h+s-1)/s
	cost := int64(rw) * int64(rh) * int64(comps)
	if progressive {
		blocks := int64((w+7)/8) * int64((h+7)/8) * int64(comps)
		keep := keptCoefficients[s]
		cost += blocks * (2*keep + 8)
	}
	return cost + workCost(rw, rh, orient, true, cfg)
}

// keptCoefficients is, by reduction s, how many coefficients of a
// progressive block internal/jpeg keeps (see reducedJPEGCost).
var keptCoefficients = [9]int64{1: 64, 2: 49, 4: 25, 8: 25}

// workCost is what tensor allocates beside the decoded image of w x h
// stored pixels: the packed RGB copy of the region it reads (twice when
// the orientation is not 1: stored, then turned), unless it reads the
// pixels in place, and the rows of the horizontal pass (every row, the
// crop's width).
func workCost(w, h, orient int, packed bool, cfg Config) int64 {
	px := int64(w) * int64(h)
	var cost int64
	if packed || orient != 1 {
		cost = 3 * px
		if orient != 1 {
			cost *= 2
		}
	}
	return cost + 3*int64(max(w, h))*int64(cfg.Crop)
}

// inPlaceModel reports the 8-bit RGBA images the resize reads in place.
func inPlaceModel(m color.Model) bool {
	return m == color.RGBAModel || m == color.NRGBAModel
}

// bytesPerPixel is the size of one pixel of the image type a decoder
// returns for a header's color model (8 for anything unknown).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at most
	case color.NYCbCrAModel:
		return 4
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// pngInterlaced reports the IHDR interlace flag.
func pngInterlaced(data []byte) bool {
	// signature (8), length (4), "IHDR" (4), width, height (8), depth,
	// color type, compression, filter (4), then the interlace method.
	return len(data) > 28 && string(data[12:16]) == "IHDR" && data[28] == 1
}
