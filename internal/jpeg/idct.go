package jpeg

import "math"

// The inverse DCT (T.81 A.3.3), at N = 8, 4, 2 or 1 output samples per
// block side. At N < 8 each output sample is the mean of the 8/N x 8/N
// samples the full transform would give (before rounding), which is what
// libjpeg-turbo's reduced transforms compute: averaged over a group of
// 8/N samples some cosines vanish (frequency 4 at N = 4, the even ones at
// N = 2, all but DC at N = 1), so only the other coefficients are read.
//
//	f(x) = sum_u F(u) * C(u)/2 * mean_{j in group x} cos((2j+1) u pi / 16)
//
// with C(0) = 1/sqrt(2), else 1, applied to columns then rows in 32-bit
// fixed point. Each 1-D pass is split into even and odd frequencies:
// out[N-1-x] differs from out[x] only in the sign of the odd terms.

const (
	constBits = 13 // fraction bits of the cosine table
	pass1Bits = 2  // extra fraction bits kept between the passes
)

// idctTab is the table of one output size.
type idctTab struct {
	freqs     []int       // frequencies read, increasing
	even, odd []int       // the same, split by parity
	m         [8][8]int32 // m[x][u] in constBits fixed point
}

// idctTabs is indexed by N.
var idctTabs [9]*idctTab

func init() {
	for _, n := range []int{1, 2, 4, 8} {
		t := &idctTab{}
		g := 8 / n
		for u := range 8 {
			c := 1.0
			if u == 0 {
				c = 1 / math.Sqrt2
			}
			used := false
			for x := range n {
				sum := 0.0
				for j := x * g; j < (x+1)*g; j++ {
					sum += math.Cos(float64(2*j+1) * float64(u) * math.Pi / 16)
				}
				v := c / 2 * sum / float64(g)
				t.m[x][u] = int32(math.Round(v * (1 << constBits)))
				used = used || math.Abs(v) > 1e-9
			}
			if used {
				t.freqs = append(t.freqs, u)
				if u&1 == 0 {
					t.even = append(t.even, u)
				} else {
					t.odd = append(t.odd, u)
				}
			}
		}
		idctTabs[n] = t
	}
}

// keeps reports whether the transform of size n reads frequency u.
func keeps(n, u int) bool {
	for _, f := range idctTabs[n].freqs {
		if f == u {
			return true
		}
	}
	return false
}

// idct transforms the coefficients of blk (natural order, row stride 8,
// not yet dequantized; only the frequencies the size-n transform reads are
// looked at, and set back to zero for the next block) into n x n samples
// at dst (row stride stride), level-shifted and clamped to [0, 255].
func idct(blk *[256]int32, q *[64]int32, n int, dst []byte, stride int) {
	if n == 1 {
		dst[0] = dcOnly(blk[0], q[0])
		blk[0] = 0
		return
	}
	if n == 2 {
		idct2(blk, q, dst, stride)
		return
	}
	t := idctTabs[n]
	fr := t.freqs
	h := n / 2
	var tmp [64]int32 // tmp[y*8+u]
	// Pass 1: columns.
	for _, u := range fr {
		var f [8]int32
		ac := int32(0)
		for _, v := range fr {
			f[v] = blk[v*8+u] * q[v*8+u]
			blk[v*8+u] = 0
			if v > 0 {
				ac |= f[v]
			}
		}
		const round = 1 << (constBits - pass1Bits - 1)
		if ac == 0 {
			dc := (f[0]*t.m[0][0] + round) >> (constBits - pass1Bits)
			for y := range n {
				tmp[y*8+u] = dc
			}
			continue
		}
		for y := range h {
			var even, odd int32
			m := &t.m[y]
			for _, v := range t.even {
				even += m[v] * f[v]
			}
			for _, v := range t.odd {
				odd += m[v] * f[v]
			}
			tmp[y*8+u] = (even + odd + round) >> (constBits - pass1Bits)
			tmp[(n-1-y)*8+u] = (even - odd + round) >> (constBits - pass1Bits)
		}
	}
	// Pass 2: rows, with the level shift folded into the rounding term.
	const shift = constBits + pass1Bits
	const round = 1<<(shift-1) + 128<<shift
	for y := range n {
		row := tmp[y*8 : y*8+8]
		out := dst[y*stride : y*stride+n]
		for x := range h {
			var even, odd int32
			m := &t.m[x]
			for _, u := range t.even {
				even += m[u] * row[u]
			}
			for _, u := range t.odd {
				odd += m[u] * row[u]
			}
			out[x] = clamp((even + odd + round) >> shift)
			out[n-1-x] = clamp((even - odd + round) >> shift)
		}
	}
}

// dcOnly is the 1/8 transform: the DC coefficient alone, F/8 rounded (the
// block mean, libjpeg's jpeg_idct_1x1), level-shifted.
func dcOnly(dc, q int32) uint8 { return clamp((dc*q+4)>>3 + 128) }

// idct2 is idct for n = 2 unrolled: frequencies 0, 1, 3, 5 and 7 (see
// idctTabs[2]); one even term and four odd ones per 1-D transform. The
// large photos a fast path reduces to 1/8 spend their chroma here.
func idct2(blk *[256]int32, q *[64]int32, dst []byte, stride int) {
	m := &idctTabs[2].m[0]
	c0, c1, c3, c5, c7 := m[0], m[1], m[3], m[5], m[7]
	const round1 = 1 << (constBits - pass1Bits - 1)
	var t0, t1 [8]int32 // rows 0 and 1 of pass 1, by frequency
	for _, u := range [5]int{0, 1, 3, 5, 7} {
		f0 := blk[u] * q[u]
		f1 := blk[8+u] * q[8+u]
		f3 := blk[24+u] * q[24+u]
		f5 := blk[40+u] * q[40+u]
		f7 := blk[56+u] * q[56+u]
		blk[u], blk[8+u], blk[24+u], blk[40+u], blk[56+u] = 0, 0, 0, 0, 0
		even := c0*f0 + round1
		odd := c1*f1 + c3*f3 + c5*f5 + c7*f7
		t0[u] = (even + odd) >> (constBits - pass1Bits)
		t1[u] = (even - odd) >> (constBits - pass1Bits)
	}
	const shift = constBits + pass1Bits
	const round = 1<<(shift-1) + 128<<shift
	for y, t := range [2]*[8]int32{&t0, &t1} {
		even := c0*t[0] + round
		odd := c1*t[1] + c3*t[3] + c5*t[5] + c7*t[7]
		out := dst[y*stride : y*stride+2]
		out[0] = clamp((even + odd) >> shift)
		out[1] = clamp((even - odd) >> shift)
	}
}

func clamp(v int32) uint8 {
	if uint32(v) <= 255 {
		return uint8(v)
	}
	if v < 0 {
		return 0
	}
	return 255
}
