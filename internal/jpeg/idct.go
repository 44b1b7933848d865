package jpeg

import "math"

// The inverse DCT (T.81 A.3.3) at N = 8, 4, 2 or 1 output samples per
// block side uses only the first N x N coefficients:
//
//	f(x,y) = 1/4 sum_{u,v<N} C(u) C(v) F(v,u) cos((2x+1)u pi/2N) cos((2y+1)v pi/2N)
//
// with C(0) = 1/sqrt(2), else 1. For N < 8 this is the 8-point transform
// evaluated at the centres of groups of 8/N pixels, so each output sample
// is (close to) the mean of the pixels it replaces. It runs in two
// separable passes in 32-bit fixed point, columns then rows, each split
// into even and odd frequencies (out[N-1-x] differs from out[x] only in
// the sign of the odd terms).

const (
	constBits = 13 // fraction bits of the cosine table
	pass1Bits = 2  // extra fraction bits kept between the passes
)

// cosTab[N][x][u] = round(2^constBits * C(u)/2 * cos((2x+1) u pi / 2N)).
var cosTab [9][8][8]int32

func init() {
	for _, n := range []int{1, 2, 4, 8} {
		for x := range n {
			for u := range n {
				c := 1.0
				if u == 0 {
					c = 1 / math.Sqrt2
				}
				v := c / 2 * math.Cos(float64(2*x+1)*float64(u)*math.Pi/float64(2*n))
				cosTab[n][x][u] = int32(math.Round(v * (1 << constBits)))
			}
		}
	}
}

// idct transforms the top-left n x n coefficients of blk (natural order,
// row stride 8, not yet dequantized) into n x n samples at dst (row
// stride stride), level-shifted and clamped to [0, 255].
func idct(blk *[65]int32, q *[64]int32, n int, dst []byte, stride int) {
	if n == 1 {
		// 1/8: the DC coefficient alone, F/8 rounded (libjpeg's
		// jpeg_idct_1x1).
		dst[0] = clamp((blk[0]*q[0]+4)>>3 + 128)
		return
	}
	var tmp [64]int32
	tab := &cosTab[n]
	h := n / 2
	// Pass 1: columns. tmp[y*8+u] = sum_v tab[y][v] * F(v,u).
	for u := range n {
		var f [8]int32
		ac := int32(0)
		for v := range n {
			f[v] = blk[v*8+u] * q[v*8+u]
			if v > 0 {
				ac |= f[v]
			}
		}
		if ac == 0 {
			dc := (f[0]*tab[0][0] + 1<<(constBits-pass1Bits-1)) >> (constBits - pass1Bits)
			for y := range n {
				tmp[y*8+u] = dc
			}
			continue
		}
		for y := range h {
			var even, odd int32
			for v := 0; v < n; v += 2 {
				even += tab[y][v] * f[v]
			}
			for v := 1; v < n; v += 2 {
				odd += tab[y][v] * f[v]
			}
			const round = 1 << (constBits - pass1Bits - 1)
			tmp[y*8+u] = (even + odd + round) >> (constBits - pass1Bits)
			tmp[(n-1-y)*8+u] = (even - odd + round) >> (constBits - pass1Bits)
		}
	}
	// Pass 2: rows, with the level shift folded into the rounding term.
	const shift = constBits + pass1Bits + 3 - 3 // the 1/4 is in the table's C/2 factors
	const round = 1<<(shift-1) + 128<<shift
	for y := range n {
		row := tmp[y*8 : y*8+8]
		out := dst[y*stride : y*stride+n]
		for x := range h {
			var even, odd int32
			for u := 0; u < n; u += 2 {
				even += tab[x][u] * row[u]
			}
			for u := 1; u < n; u += 2 {
				odd += tab[x][u] * row[u]
			}
			out[x] = clamp((even + odd + round) >> shift)
			out[n-1-x] = clamp((even - odd + round) >> shift)
		}
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
