package imageprep

import (
	"math"
	"sync"
)

// The resampler reproduces Pillow's Image.resize(size, Image.BILINEAR)
// (libImaging/Resample.c): a triangle filter whose support grows with the
// downscale factor (antialiasing), coefficients normalized to sum 1 and then
// quantized to 22-bit fixed point, a horizontal pass rounded to uint8, then a
// vertical pass rounded to uint8. Only the output pixels inside the center
// crop are computed; each output pixel depends only on its own coefficients,
// so the values are the same as resizing the whole image and cropping.

// precisionBits is Pillow's PRECISION_BITS (32 - 8 - 2).
const precisionBits = 22

// coeffs are the fixed-point filter taps of count consecutive output samples.
type coeffs struct {
	start []int   // first input sample of each output sample
	n     []int   // number of taps of each output sample
	k     []int32 // taps, ksize per output sample
	ksize int
}

type coeffKey struct {
	in, out, off, count int
	in0, n              float64
}

var (
	coeffCache     sync.Map // coeffKey -> *coeffs
	coeffCacheSize int64
	coeffCacheMu   sync.Mutex
)

// maxCachedCoeffs bounds the coefficient cache: images come in a handful of
// sizes, but a stream of unusual ones must not grow memory without bound.
const maxCachedCoeffs = 4096

// resampleCoeffs returns the bilinear taps mapping the span [in0, in0+n)
// of inSize samples (Pillow's box; the whole input is 0, inSize) to
// outSize samples, for the outputs off .. off+count-1.
func resampleCoeffs(inSize, outSize, off, count int, in0, n float64) *coeffs {
	key := coeffKey{inSize, outSize, off, count, in0, n}
	if c, ok := coeffCache.Load(key); ok {
		return c.(*coeffs)
	}
	c := computeCoeffs(inSize, outSize, off, count, in0, n)
	coeffCacheMu.Lock()
	if coeffCacheSize < maxCachedCoeffs {
		if _, loaded := coeffCache.LoadOrStore(key, c); !loaded {
			coeffCacheSize++
		}
	}
	coeffCacheMu.Unlock()
	return c
}

// computeCoeffs is Pillow's precompute_coeffs followed by
// normalize_coeffs_8bpc, for the bilinear filter (support 1) and the box
// [in0, in0+n) of the input.
func computeCoeffs(inSize, outSize, off, count int, in0, n float64) *coeffs {
	scale := n / float64(outSize)
	filterscale := max(scale, 1.0)
	support := 1.0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := &coeffs{
		start: make([]int, count),
		n:     make([]int, count),
		k:     make([]int32, count*ksize),
		ksize: ksize,
	}
	w := make([]float64, ksize)
	ss := 1.0 / filterscale
	for i := range count {
		xx := off + i
		center := in0 + (float64(xx)+0.5)*scale
		// C's (int) conversion truncates toward zero, like Go's.
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := range xmax {
			v := triangle((float64(x+xmin) - center + 0.5) * ss)
			w[x] = v
			ww += v
		}
		k := c.k[i*ksize : (i+1)*ksize]
		for x := range xmax {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				k[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		c.start[i] = xmin
		c.n[i] = xmax
	}
	return c
}

// triangle is Pillow's bilinear_filter.
func triangle(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// clip8 is Pillow's clip8: the fixed-point sum shifted down and clamped.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizeRows runs the horizontal pass: src holds rows pixels, stride bytes
// apart, of bpp bytes each (packed RGB is 3; RGBA read in place is 4, its
// alpha ignored), whose first column is input sample x0; dst receives rows
// of len(c.start) packed RGB pixels.
func resizeRows(dst, src []byte, rows, stride, bpp, x0 int, c *coeffs) {
	outW := len(c.start)
	const half = 1 << (precisionBits - 1)
	for r := range rows {
		in := src[r*stride:]
		out := dst[r*outW*3 : (r+1)*outW*3]
		for j := range outW {
			k := c.k[j*c.ksize : j*c.ksize+c.n[j]]
			o := out[j*3 : j*3+3]
			if len(k) == 0 {
				o[0], o[1], o[2] = 0, 0, 0
				continue
			}
			p := in[(c.start[j]-x0)*bpp:]
			p = p[:(len(k)-1)*bpp+3]
			s0, s1, s2 := int32(half), int32(half), int32(half)
			for x, w := range k {
				i := x * bpp
				s0 += int32(p[i]) * w
				s1 += int32(p[i+1]) * w
				s2 += int32(p[i+2]) * w
			}
			o[0], o[1], o[2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

// resizeColumn runs the vertical pass for output row i: src holds rows of
// packed RGB, width pixels wide, whose first row is input sample y0; the
// result goes to out (3*width bytes). rows is scratch for the row slices.
func resizeColumn(out []byte, rows [][]byte, src []byte, width, y0 int, c *coeffs, i int) {
	stride := width * 3
	out = out[:stride]
	k := c.k[i*c.ksize : i*c.ksize+c.n[i]]
	base := (c.start[i] - y0) * stride
	rows = rows[:0]
	for y := range k {
		rows = append(rows, src[base+y*stride:base+(y+1)*stride])
	}
	const half = 1 << (precisionBits - 1)
	switch len(k) {
	case 2:
		r0, r1 := rows[0][:stride], rows[1][:stride]
		w0, w1 := k[0], k[1]
		for j := range out {
			out[j] = clip8(half + int32(r0[j])*w0 + int32(r1[j])*w1)
		}
	case 3:
		r0, r1, r2 := rows[0][:stride], rows[1][:stride], rows[2][:stride]
		w0, w1, w2 := k[0], k[1], k[2]
		for j := range out {
			out[j] = clip8(half + int32(r0[j])*w0 + int32(r1[j])*w1 + int32(r2[j])*w2)
		}
	default:
		for j := range out {
			s := int32(half)
			for t, w := range k {
				s += int32(rows[t][j]) * w
			}
			out[j] = clip8(s)
		}
	}
}
