package imageprep

import (
	"image"
	"image/color"
)

// yccKind says how *image.YCbCr samples become RGB.
type yccKind int

const (
	// yccJFIF is full-range BT.601 with libjpeg's fixed-point tables
	// (jdcolor.c), which PIL's JPEG decoder uses.
	yccJFIF yccKind = iota
	// yccVP8 is studio-range BT.601 with libwebp's fixed-point formulas
	// (dsp/yuv.h), which PIL's WebP decoder uses.
	yccVP8
	// yccJFIFReplicated is yccJFIF with subsampled chroma replicated, not
	// filtered: what libjpeg-turbo does for a JPEG decoded at 1/8.
	yccJFIFReplicated
)

// libjpeg's ycc_rgb_convert tables (SCALEBITS 16).
var jpegCrR, jpegCbB, jpegCrG, jpegCbG [256]int32

// libwebp's MultHi products (YUV_FIX2 6).
var vp8Y, vp8RV, vp8GU, vp8GV, vp8BU [256]int32

func init() {
	const scaleBits = 16
	const oneHalf = 1 << (scaleBits - 1)
	fix := func(x float64) int32 { return int32(x*(1<<scaleBits) + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		jpegCrR[i] = (fix(1.40200)*x + oneHalf) >> scaleBits
		jpegCbB[i] = (fix(1.77200)*x + oneHalf) >> scaleBits
		jpegCrG[i] = -fix(0.71414) * x
		jpegCbG[i] = -fix(0.34414)*x + oneHalf

		v := int32(i)
		vp8Y[i] = (v * 19077) >> 8
		vp8RV[i] = (v * 26149) >> 8
		vp8GU[i] = (v * 6419) >> 8
		vp8GV[i] = (v * 13320) >> 8
		vp8BU[i] = (v * 33050) >> 8
	}
}

func clamp255(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

func vp8Clip(v int32) uint8 {
	if v&^((256<<6)-1) == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// toRGB writes the pixels of rect r (relative to img.Bounds().Min) of the
// stored image as packed 8-bit RGB into dst, converting like PIL's
// convert("RGB"): alpha is dropped, not composited; 16-bit samples keep
// their high byte. pal, when not nil, replaces a *image.Paletted palette
// (used to recover GIF colors that image/gif blanks for transparency).
func toRGB(dst []byte, img image.Image, r image.Rectangle, ycc yccKind, pal []byte) {
	w := r.Dx()
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		if b.Min == (image.Point{}) && ycbcrToRGB(dst, m, r, ycc) {
			return
		}
	case *image.NYCbCrA:
		if b.Min == (image.Point{}) && ycbcrToRGB(dst, &m.YCbCr, r, ycc) {
			return
		}
	case *image.Gray:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(b.Min.X+r.Min.X, b.Min.Y+y):][:w]
			out := dst[(y-r.Min.Y)*w*3:][:w*3]
			for x, v := range src {
				out[x*3], out[x*3+1], out[x*3+2] = v, v, v
			}
		}
		return
	case *image.Gray16:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(b.Min.X+r.Min.X, b.Min.Y+y):][:w*2]
			out := dst[(y-r.Min.Y)*w*3:][:w*3]
			for x := range w {
				v := src[x*2]
				out[x*3], out[x*3+1], out[x*3+2] = v, v, v
			}
		}
		return
	case *image.RGBA:
		copyRGB(dst, m.Pix, m.Stride, m.PixOffset(b.Min.X+r.Min.X, b.Min.Y+r.Min.Y), w, r.Dy(), 4)
		return
	case *image.NRGBA:
		copyRGB(dst, m.Pix, m.Stride, m.PixOffset(b.Min.X+r.Min.X, b.Min.Y+r.Min.Y), w, r.Dy(), 4)
		return
	case *image.RGBA64:
		copyRGB(dst, m.Pix, m.Stride, m.PixOffset(b.Min.X+r.Min.X, b.Min.Y+r.Min.Y), w, r.Dy(), 8)
		return
	case *image.NRGBA64:
		copyRGB(dst, m.Pix, m.Stride, m.PixOffset(b.Min.X+r.Min.X, b.Min.Y+r.Min.Y), w, r.Dy(), 8)
		return
	case *image.CMYK:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(b.Min.X+r.Min.X, b.Min.Y+y):][:w*4]
			out := dst[(y-r.Min.Y)*w*3:][:w*3]
			for x := range w {
				p := src[x*4 : x*4+4]
				// PIL's cmyk2rgb: nk - MULDIV255(c, nk).
				nk := 255 - int32(p[3])
				for c := range 3 {
					t := int32(p[c])*nk + 128
					out[x*3+c] = clamp255(nk - ((t>>8)+t)>>8)
				}
			}
		}
		return
	case *image.Paletted:
		lut := paletteLUT(m.Palette, pal)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(b.Min.X+r.Min.X, b.Min.Y+y):][:w]
			out := dst[(y-r.Min.Y)*w*3:][:w*3]
			for x, v := range src {
				p := lut[int(v)*3 : int(v)*3+3]
				out[x*3], out[x*3+1], out[x*3+2] = p[0], p[1], p[2]
			}
		}
		return
	}
	// Any other image type: the slow path through color.Color.
	for y := r.Min.Y; y < r.Max.Y; y++ {
		out := dst[(y-r.Min.Y)*w*3:][:w*3]
		for x := range w {
			c := color.NRGBA64Model.Convert(img.At(b.Min.X+r.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			out[x*3], out[x*3+1], out[x*3+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
		}
	}
}

// copyRGB copies the first three samples of pixels bpp bytes wide; for
// 16-bit samples (bpp 8) it keeps the high (first, big-endian) byte.
func copyRGB(dst, pix []byte, stride, off, w, h, bpp int) {
	step := bpp / 4 // bytes per sample
	for y := range h {
		src := pix[off+y*stride:][:w*bpp]
		out := dst[y*w*3:][:w*3]
		for x := range w {
			p := src[x*bpp : x*bpp+bpp]
			out[x*3], out[x*3+1], out[x*3+2] = p[0], p[step], p[2*step]
		}
	}
}

// clampTab maps v+clampOff to v clamped to [0, 255] for v in [-384, 640),
// like libjpeg's range_limit table.
var clampTab [1024]uint8

const clampOff = 384

func init() {
	for i := range clampTab {
		clampTab[i] = clamp255(int32(i - clampOff))
	}
}

// ycbcrToRGB converts rect r of m, upsampling chroma like libjpeg-turbo's
// "fancy" upsampling (jdsample.c: triangle filters for h2v1, h1v2 and h2v2,
// replication otherwise). It reports false for subsampling ratios it does
// not know.
func ycbcrToRGB(dst []byte, m *image.YCbCr, r image.Rectangle, ycc yccKind) bool {
	var hs, vs uint
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	default:
		return false
	}
	W, H := m.Rect.Dx(), m.Rect.Dy()
	cw := (W + 1<<hs - 1) >> hs
	ch := (H + 1<<vs - 1) >> vs
	// libjpeg-turbo (jinit_upsampler) uses the triangle filters for h2v1 and
	// h2v2 only when the downsampled width exceeds 2, always for h1v2, and
	// never for 4x horizontal subsampling.
	fancy := ycc != yccJFIFReplicated
	fancyH := fancy && hs == 1 && cw > 2
	fancyV := fancy && vs == 1 && (hs == 0 || fancyH)
	w := r.Dx()
	// Chroma columns [ca, cb] cover the rectangle; sums holds them with one
	// neighbor either side, edges replicated as libjpeg's filters do.
	ca, cb := r.Min.X>>hs, (r.Max.X-1)>>hs
	n := cb - ca + 3
	buf := make([]int32, 2*n+0)
	cbSum, crSum := buf[:n], buf[n:]
	line := make([]uint8, 2*w)
	cbLine, crLine := line[:w], line[w:]
	for y := r.Min.Y; y < r.Max.Y; y++ {
		cy := y >> vs
		cyn := cy
		if fancyV {
			if y&1 == 0 {
				cyn = max(cy-1, 0)
			} else {
				cyn = min(cy+1, ch-1)
			}
		}
		row0 := m.Cb[cy*m.CStride : cy*m.CStride+cw]
		row1 := m.Cr[cy*m.CStride : cy*m.CStride+cw]
		nrow0 := m.Cb[cyn*m.CStride : cyn*m.CStride+cw]
		nrow1 := m.Cr[cyn*m.CStride : cyn*m.CStride+cw]
		for i := range n {
			c := min(max(ca+i-1, 0), cw-1)
			if fancyV {
				cbSum[i] = 3*int32(row0[c]) + int32(nrow0[c])
				crSum[i] = 3*int32(row1[c]) + int32(nrow1[c])
			} else {
				cbSum[i] = int32(row0[c])
				crSum[i] = int32(row1[c])
			}
		}
		upsampleChroma(cbLine, crLine, cbSum, crSum, r.Min.X, ca, hs, y, fancyH, fancyV)
		yrow := m.Y[y*m.YStride+r.Min.X : y*m.YStride+r.Max.X]
		out := dst[(y-r.Min.Y)*w*3:][:w*3]
		yccRowToRGB(out, yrow, cbLine[:len(yrow)], crLine[:len(yrow)], ycc)
	}
	return true
}

// upsampleChroma fills one output row's Cb and Cr from the chroma sums of
// its source rows (cbSum, crSum: columns ca-1 .. with one neighbor either
// side), with libjpeg-turbo's triangle filters where fancy.
func upsampleChroma(cbLine, crLine []uint8, cbSum, crSum []int32, x0, ca int, hs uint, y int, fancyH, fancyV bool) {
	w := len(cbLine)
	switch {
	case fancyH && fancyV: // h2v2: weights 9/3/3/1 over 16
		for i := range w {
			x := x0 + i
			j := x>>1 - ca + 1
			if x&1 == 0 {
				cbLine[i] = uint8((3*cbSum[j] + cbSum[j-1] + 8) >> 4)
				crLine[i] = uint8((3*crSum[j] + crSum[j-1] + 8) >> 4)
			} else {
				cbLine[i] = uint8((3*cbSum[j] + cbSum[j+1] + 7) >> 4)
				crLine[i] = uint8((3*crSum[j] + crSum[j+1] + 7) >> 4)
			}
		}
	case fancyH: // h2v1: weights 3/1 over 4
		for i := range w {
			x := x0 + i
			j := x>>1 - ca + 1
			if x&1 == 0 {
				cbLine[i] = uint8((3*cbSum[j] + cbSum[j-1] + 1) >> 2)
				crLine[i] = uint8((3*crSum[j] + crSum[j-1] + 1) >> 2)
			} else {
				cbLine[i] = uint8((3*cbSum[j] + cbSum[j+1] + 2) >> 2)
				crLine[i] = uint8((3*crSum[j] + crSum[j+1] + 2) >> 2)
			}
		}
	case fancyV: // h1v2: weights 3/1 over 4, bias 1 above and 2 below
		bias := int32(1 + y&1)
		for i := range w {
			j := (x0+i)>>hs - ca + 1
			cbLine[i] = uint8((cbSum[j] + bias) >> 2)
			crLine[i] = uint8((crSum[j] + bias) >> 2)
		}
	default:
		for i := range w {
			j := (x0+i)>>hs - ca + 1
			cbLine[i] = uint8(cbSum[j])
			crLine[i] = uint8(crSum[j])
		}
	}
}

// yccRowToRGB converts one row of full-resolution Y, Cb and Cr to packed RGB
// with the conversion of the format's decoder.
func yccRowToRGB(out, yrow, cbl, crl []uint8, ycc yccKind) {
	if ycc == yccVP8 {
		for i, yv := range yrow {
			y1, u, v := vp8Y[yv], cbl[i], crl[i]
			o := out[i*3 : i*3+3]
			o[0] = vp8Clip(y1 + vp8RV[v] - 14234)
			o[1] = vp8Clip(y1 - vp8GU[u] - vp8GV[v] + 8708)
			o[2] = vp8Clip(y1 + vp8BU[u] - 17685)
		}
		return
	}
	for i, yv := range yrow {
		yy, u, v := int32(yv)+clampOff, cbl[i], crl[i]
		o := out[i*3 : i*3+3]
		o[0] = clampTab[(yy+jpegCrR[v])&1023]
		o[1] = clampTab[(yy+(jpegCbG[u]+jpegCrG[v])>>16)&1023]
		o[2] = clampTab[(yy+jpegCbB[u])&1023]
	}
}

// paletteLUT is a palette as packed 8-bit RGB, 256 entries: pal (the
// file's own palette bytes) when there is one, else the decoded palette's
// colours un-premultiplied.
func paletteLUT(palette color.Palette, pal []byte) *[256 * 3]byte {
	var lut [256 * 3]byte
	if pal != nil {
		copy(lut[:], pal)
		return &lut
	}
	for i, c := range palette {
		if i >= 256 {
			break
		}
		var n color.NRGBA
		switch c := c.(type) {
		case color.NRGBA:
			n = c
		case color.RGBA:
			if c.A == 0xff || c.A == 0 {
				n = color.NRGBA{c.R, c.G, c.B, c.A}
			} else {
				n = color.NRGBAModel.Convert(c).(color.NRGBA)
			}
		default:
			n = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
		lut[i*3], lut[i*3+1], lut[i*3+2] = n.R, n.G, n.B
	}
	return &lut
}
