package imageprep

import "image"

// source is a decoded image with how to read it: orientation, YCbCr
// flavor, for GIF the stored palette, and for a JPEG decoded at a DCT
// reduction the full size it stands for.
type source struct {
	img    image.Image
	orient int
	ycc    yccKind
	pal    []byte
	// fullW x fullH (stored, not oriented) is the size of the image that
	// img shows reduced by div; div 0 or 1 means img is the full image.
	fullW, fullH, div int
}

// size returns the oriented width and height of the full image.
func (s source) size() (int, int) {
	if s.div > 1 {
		return orientedSize(s.orient, s.fullW, s.fullH)
	}
	return s.pixSize()
}

// pixSize returns the oriented width and height of the decoded pixels.
func (s source) pixSize() (int, int) {
	b := s.img.Bounds()
	return orientedSize(s.orient, b.Dx(), b.Dy())
}

// box returns, along the oriented x axis (or y), the span [in0, in0+n) of
// decoded pixels that the full image covers: all of them, except that the
// last pixel of a reduced image stands for fewer than div full pixels
// when the size is not a multiple of div, and it comes first on an axis
// the orientation reverses.
func (s source) box(yAxis bool) (in0, n float64) {
	W, H := s.size()
	pw, ph := s.pixSize()
	full, pix := W, pw
	if yAxis {
		full, pix = H, ph
	}
	if s.div <= 1 {
		return 0, float64(pix)
	}
	n = float64(full) / float64(s.div)
	reversed := false
	switch s.orient {
	case 2, 6:
		reversed = !yAxis
	case 3, 7:
		reversed = true
	case 4, 8:
		reversed = yAxis
	}
	if reversed {
		in0 = float64(pix) - n
	}
	return in0, n
}

// decodeSource decodes data for tensor: JPEGs by internal/jpeg, at the
// reduction the resize needs unless cfg.ExactResize; everything else, and
// the JPEG variants internal/jpeg does not decode, at full size by the
// standard library and x/image.
func decodeSource(data []byte, cfg Config) (source, string, error) {
	tryJPEG := true
	if f, _ := Sniff(data); f == FormatJPEG && len(data) > 0 {
		if err := shortError(f, data); err != nil {
			return source{}, f, err
		}
		src, ok, err := jpegSource(data, cfg)
		if err != nil || ok {
			return src, FormatJPEG, err
		}
		tryJPEG = false
	}
	img, format, err := decode(data, cfg.MaxPixels, tryJPEG)
	if err != nil {
		return source{}, format, err
	}
	src := source{img: img, orient: orientation(format, data)}
	if p, ok := img.(*image.Paletted); ok && format == FormatGIF {
		if gp := gifPalette(data); len(gp) == 3*len(p.Palette) {
			src.pal = gp
		}
	}
	if format == FormatWebP {
		src.ycc = yccVP8
	}
	return src, format, nil
}
