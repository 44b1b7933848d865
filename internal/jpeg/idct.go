package jpeg

// The inverse DCT (T.81 A.3.3) in integer arithmetic, computed the way
// libjpeg-turbo's "islow" method does, so that its output is the same to
// the last level (PIL, and so torchvision, decode with it):
//
//   - N = 8: the Loeffler-Ligtenberg-Moschytz factorization (12
//     multiplications per 1-D transform), cosines in 13-bit fixed point,
//     columns first, results kept with 2 extra fraction bits between the
//     passes and rounded half up at the end of each.
//   - N = 4 and N = 2: the reduced transforms of libjpeg's jidctred: the
//     mean of each 2x2 (4x4) group of the full transform's samples, for
//     which frequency 4 (every even frequency but DC) cancels out; the
//     remaining odd cosines are folded into one constant per coefficient.
//   - N = 1: the DC coefficient alone, F/8 rounded.
//
// Range limiting is libjpeg's: the descaled value v becomes v+128 clamped
// to [0, 255] for v in [-512, 512), and wraps modulo 1024 outside (only
// corrupt data gets there). Coefficients are read as 16-bit values, the
// products in 64 bits, the workspace between the passes in 32 bits, as in
// libjpeg-turbo on 64-bit machines.

const (
	constBits = 13 // fraction bits of the cosine constants
	pass1Bits = 2  // extra fraction bits kept between the passes
)

// Cosine constants, round(x * 2^13), with ck = cos(k*pi/16).
// TestIDCTConstants checks them against the cosines they stand for.
const (
	fix0298631336 = 2446  // sqrt(2) * (-c1+c3+c5-c7)
	fix0390180644 = 3196  // sqrt(2) * (c3-c5)
	fix0541196100 = 4433  // sqrt(2) * c6
	fix0765366865 = 6270  // sqrt(2) * (c2-c6)
	fix0899976223 = 7373  // sqrt(2) * (c3-c7)
	fix1175875602 = 9633  // sqrt(2) * c3
	fix1501321110 = 12299 // sqrt(2) * (c1+c3-c5-c7)
	fix1847759065 = 15137 // sqrt(2) * (c2+c6)
	fix1961570560 = 16069 // sqrt(2) * (c3+c5)
	fix2053119869 = 16819 // sqrt(2) * (c1+c3-c5+c7)
	fix2562915447 = 20995 // sqrt(2) * (c1+c3)
	fix3072711026 = 25172 // sqrt(2) * (c1+c3+c5-c7)

	// The reduced transforms' odd constants.
	fix0211164243 = 1730  // sqrt(2) * (c1-c3)
	fix0509795579 = 4176  // sqrt(2) * (c5-c7)
	fix0601344887 = 4926  // sqrt(2) * (c1-c5)
	fix0720959822 = 5906  // sqrt(2) * (c1-c3+c5-c7)
	fix0850430095 = 6967  // sqrt(2) * (-c1+c3+c5+c7)
	fix1061594337 = 8697  // sqrt(2) * (c5+c7)
	fix1272758580 = 10426 // sqrt(2) * (c1-c3+c5+c7)
	fix1451774981 = 11893 // sqrt(2) * (c3+c7)
	fix2172734803 = 17799 // sqrt(2) * (c1+c5)
	fix3624509785 = 29692 // sqrt(2) * (c1+c3+c5+c7)
)

// freqs lists, per output size N, the frequencies (rows and columns of
// the coefficient block) its transform reads.
var freqs = [9][]int{
	1: {0},
	2: {0, 1, 3, 5, 7},
	4: {0, 1, 2, 3, 5, 6, 7},
	8: {0, 1, 2, 3, 4, 5, 6, 7},
}

// keeps reports whether the transform of size n reads frequency u.
func keeps(n, u int) bool {
	for _, f := range freqs[n] {
		if f == u {
			return true
		}
	}
	return false
}

// rangeTab is libjpeg's post-IDCT range limit, indexed by the descaled
// value & 1023.
var rangeTab [1024]uint8

func init() {
	for i := range rangeTab {
		v := i
		if v >= 512 {
			v -= 1024
		}
		rangeTab[i] = uint8(min(max(v+128, 0), 255))
	}
}

// limit descales v by shift bits, rounding half up, and range-limits it.
func limit(v int, shift uint) uint8 { return rangeTab[((v+1<<(shift-1))>>shift)&1023] }

// deq dequantizes a coefficient held as libjpeg's 16-bit JCOEF.
func deq(c, q int32) int { return int(int16(c)) * int(q) }

// idct transforms the coefficients of blk (natural order, row stride 8,
// not yet dequantized; only the frequencies the size-n transform reads are
// looked at, and set back to zero for the next block) into n x n samples
// at dst (row stride stride), level-shifted and range-limited.
func idct(blk *[256]int32, q *[64]int32, n int, dst []byte, stride int) {
	switch n {
	case 1:
		dst[0] = dcOnly(blk[0], q[0])
		blk[0] = 0
	case 2:
		idct2(blk, q, dst, stride)
	case 4:
		idct4(blk, q, dst, stride)
	default:
		idct8(blk, q, dst, stride)
	}
}

// dcOnly is the 1/8 transform: the DC coefficient alone, F/8 rounded (the
// block mean), level-shifted.
func dcOnly(dc, q int32) uint8 { return limit(deq(dc, q), 3) }

// llm is the 1-D 8-point inverse DCT (Loeffler-Ligtenberg-Moschytz) of
// s0..s7, scaled by 2^constBits * sqrt(8), not yet descaled. Outputs come
// in pairs (o[x], o[7-x]) that differ in the sign of the odd part.
func llm(s0, s1, s2, s3, s4, s5, s6, s7 int) (o0, o1, o2, o3, o4, o5, o6, o7 int) {
	// Even part: a rotation of (s2, s6) and the butterfly of s0, s4.
	z1 := (s2 + s6) * fix0541196100
	e2 := z1 - s6*fix1847759065
	e3 := z1 + s2*fix0765366865
	e0 := (s0 + s4) << constBits
	e1 := (s0 - s4) << constBits
	t10, t13 := e0+e3, e0-e3
	t11, t12 := e1+e2, e1-e2
	// Odd part: four rotations sharing the products of their sums.
	z1 = s7 + s1
	z2 := s5 + s3
	z3 := s7 + s3
	z4 := s5 + s1
	z5 := (z3 + z4) * fix1175875602
	z1 *= -fix0899976223
	z2 *= -fix2562915447
	z3 = z3*-fix1961570560 + z5
	z4 = z4*-fix0390180644 + z5
	a0 := s7*fix0298631336 + z1 + z3
	a1 := s5*fix2053119869 + z2 + z4
	a2 := s3*fix3072711026 + z2 + z3
	a3 := s1*fix1501321110 + z1 + z4
	return t10 + a3, t11 + a2, t12 + a1, t13 + a0, t13 - a0, t12 - a1, t11 - a2, t10 - a3
}

// idct8 is the full 8x8 transform.
func idct8(blk *[256]int32, q *[64]int32, dst []byte, stride int) {
	var ws [64]int32
	const d1 = constBits - pass1Bits
	for u := range 8 {
		c := blk[u : u+57 : u+57]
		if c[8]|c[16]|c[24]|c[32]|c[40]|c[48]|c[56] == 0 {
			// A column with DC alone: the same result, faster.
			dc := int32(deq(c[0], q[u]) << pass1Bits)
			ws[u], ws[8+u], ws[16+u], ws[24+u] = dc, dc, dc, dc
			ws[32+u], ws[40+u], ws[48+u], ws[56+u] = dc, dc, dc, dc
			c[0] = 0
			continue
		}
		o0, o1, o2, o3, o4, o5, o6, o7 := llm(
			deq(c[0], q[u]), deq(c[8], q[8+u]), deq(c[16], q[16+u]), deq(c[24], q[24+u]),
			deq(c[32], q[32+u]), deq(c[40], q[40+u]), deq(c[48], q[48+u]), deq(c[56], q[56+u]))
		c[0], c[8], c[16], c[24], c[32], c[40], c[48], c[56] = 0, 0, 0, 0, 0, 0, 0, 0
		const r = 1 << (d1 - 1)
		ws[u], ws[8+u] = int32((o0+r)>>d1), int32((o1+r)>>d1)
		ws[16+u], ws[24+u] = int32((o2+r)>>d1), int32((o3+r)>>d1)
		ws[32+u], ws[40+u] = int32((o4+r)>>d1), int32((o5+r)>>d1)
		ws[48+u], ws[56+u] = int32((o6+r)>>d1), int32((o7+r)>>d1)
	}
	const d2 = constBits + pass1Bits + 3
	for y := range 8 {
		w := ws[y*8 : y*8+8 : y*8+8]
		out := dst[y*stride : y*stride+8 : y*stride+8]
		if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
			v := limit(int(w[0]), pass1Bits+3)
			out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7] = v, v, v, v, v, v, v, v
			continue
		}
		o0, o1, o2, o3, o4, o5, o6, o7 := llm(int(w[0]), int(w[1]), int(w[2]), int(w[3]),
			int(w[4]), int(w[5]), int(w[6]), int(w[7]))
		out[0], out[1], out[2], out[3] = limit(o0, d2), limit(o1, d2), limit(o2, d2), limit(o3, d2)
		out[4], out[5], out[6], out[7] = limit(o4, d2), limit(o5, d2), limit(o6, d2), limit(o7, d2)
	}
}

// red4 is the 1-D 4-point reduced transform of an 8-point input (s4 is
// not read), scaled by 2^(constBits+1) * sqrt(8), not yet descaled.
func red4(s0, s1, s2, s3, s5, s6, s7 int) (o0, o1, o2, o3 int) {
	e0 := s0 << (constBits + 1)
	e2 := s2*fix1847759065 - s6*fix0765366865
	t10, t12 := e0+e2, e0-e2
	a0 := -s7*fix0211164243 + s5*fix1451774981 - s3*fix2172734803 + s1*fix1061594337
	a2 := -s7*fix0509795579 - s5*fix0601344887 + s3*fix0899976223 + s1*fix2562915447
	return t10 + a2, t12 + a0, t12 - a0, t10 - a2
}

// idct4 is the 4x4 reduced transform (1/2 scale).
func idct4(blk *[256]int32, q *[64]int32, dst []byte, stride int) {
	var ws [32]int32 // 4 rows of 8
	const d1 = constBits - pass1Bits + 1
	for u := range 8 {
		if u == 4 {
			continue // pass 2 does not read column 4
		}
		c := blk[u : u+57 : u+57]
		if c[8]|c[16]|c[24]|c[40]|c[48]|c[56] == 0 {
			dc := int32(deq(c[0], q[u]) << pass1Bits)
			ws[u], ws[8+u], ws[16+u], ws[24+u] = dc, dc, dc, dc
			c[0] = 0
			continue
		}
		o0, o1, o2, o3 := red4(deq(c[0], q[u]), deq(c[8], q[8+u]), deq(c[16], q[16+u]),
			deq(c[24], q[24+u]), deq(c[40], q[40+u]), deq(c[48], q[48+u]), deq(c[56], q[56+u]))
		c[0], c[8], c[16], c[24], c[40], c[48], c[56] = 0, 0, 0, 0, 0, 0, 0
		const r = 1 << (d1 - 1)
		ws[u], ws[8+u] = int32((o0+r)>>d1), int32((o1+r)>>d1)
		ws[16+u], ws[24+u] = int32((o2+r)>>d1), int32((o3+r)>>d1)
	}
	const d2 = constBits + pass1Bits + 3 + 1
	for y := range 4 {
		w := ws[y*8 : y*8+8 : y*8+8]
		out := dst[y*stride : y*stride+4 : y*stride+4]
		if w[1]|w[2]|w[3]|w[5]|w[6]|w[7] == 0 {
			v := limit(int(w[0]), pass1Bits+3)
			out[0], out[1], out[2], out[3] = v, v, v, v
			continue
		}
		o0, o1, o2, o3 := red4(int(w[0]), int(w[1]), int(w[2]), int(w[3]), int(w[5]), int(w[6]), int(w[7]))
		out[0], out[1], out[2], out[3] = limit(o0, d2), limit(o1, d2), limit(o2, d2), limit(o3, d2)
	}
}

// red2 is the odd part of the 1-D 2-point reduced transform (the even
// part is s0 alone), scaled by 2^(constBits+2) * sqrt(8).
func red2(s1, s3, s5, s7 int) int {
	return -s7*fix0720959822 + s5*fix0850430095 - s3*fix1272758580 + s1*fix3624509785
}

// idct2 is the 2x2 reduced transform (1/4 scale): frequencies 0, 1, 3, 5
// and 7 of each axis. The large photos a fast path reduces to 1/8 spend
// their chroma here, and most of those blocks (80% of the 12 MP photo's)
// have frequencies 0 and 1 alone: idct2Low computes those.
func idct2(blk *[256]int32, q *[64]int32, dst []byte, stride int) {
	b := blk[:64:64]
	hi := b[3] | b[5] | b[7] | b[11] | b[13] | b[15]
	for _, v := range [3]int{24, 40, 56} {
		r := b[v : v+8 : v+8]
		hi |= r[0] | r[1] | r[3] | r[5] | r[7]
	}
	if hi == 0 {
		idct2Low(blk, q, dst, stride)
		return
	}
	idct2Full(blk, q, dst, stride)
}

// idct2Low is idct2Full for a block whose frequencies 3, 5 and 7 are zero
// on both axes: the same arithmetic with those terms left out (they add
// zero), so the same output.
func idct2Low(blk *[256]int32, q *[64]int32, dst []byte, stride int) {
	const d1 = constBits - pass1Bits + 2
	var ws [2][2]int32 // [row][column]
	for u := range 2 {
		c0, c1 := blk[u], blk[8+u]
		blk[u], blk[8+u] = 0, 0
		if c1 == 0 {
			dc := int32(deq(c0, q[u]) << pass1Bits)
			ws[0][u], ws[1][u] = dc, dc
			continue
		}
		e := deq(c0, q[u]) << (constBits + 2)
		o := deq(c1, q[8+u]) * fix3624509785
		const r = 1 << (d1 - 1)
		ws[0][u], ws[1][u] = int32((e+o+r)>>d1), int32((e-o+r)>>d1)
	}
	const d2 = constBits + pass1Bits + 3 + 2
	for y := range 2 {
		out := dst[y*stride : y*stride+2 : y*stride+2]
		w0, w1 := ws[y][0], ws[y][1]
		if w1 == 0 {
			v := limit(int(w0), pass1Bits+3)
			out[0], out[1] = v, v
			continue
		}
		e := int(w0) << (constBits + 2)
		o := int(w1) * fix3624509785
		out[0], out[1] = limit(e+o, d2), limit(e-o, d2)
	}
}

// idct2Full is the 2x2 transform of any block.
func idct2Full(blk *[256]int32, q *[64]int32, dst []byte, stride int) {
	var ws [16]int32 // 2 rows of 8
	const d1 = constBits - pass1Bits + 2
	for _, u := range [5]int{0, 1, 3, 5, 7} {
		c := blk[u : u+57 : u+57]
		if c[8]|c[24]|c[40]|c[56] == 0 {
			dc := int32(deq(c[0], q[u]) << pass1Bits)
			ws[u], ws[8+u] = dc, dc
			c[0] = 0
			continue
		}
		e := deq(c[0], q[u]) << (constBits + 2)
		o := red2(deq(c[8], q[8+u]), deq(c[24], q[24+u]), deq(c[40], q[40+u]), deq(c[56], q[56+u]))
		c[0], c[8], c[24], c[40], c[56] = 0, 0, 0, 0, 0
		const r = 1 << (d1 - 1)
		ws[u], ws[8+u] = int32((e+o+r)>>d1), int32((e-o+r)>>d1)
	}
	const d2 = constBits + pass1Bits + 3 + 2
	for y := range 2 {
		w := ws[y*8 : y*8+8 : y*8+8]
		out := dst[y*stride : y*stride+2 : y*stride+2]
		if w[1]|w[3]|w[5]|w[7] == 0 {
			v := limit(int(w[0]), pass1Bits+3)
			out[0], out[1] = v, v
			continue
		}
		e := int(w[0]) << (constBits + 2)
		o := red2(int(w[1]), int(w[3]), int(w[5]), int(w[7]))
		out[0], out[1] = limit(e+o, d2), limit(e-o, d2)
	}
}
