package gemm

// genericTile is the pure-Go micro-kernel (4x4, register-blocked) and the
// reference every assembly kernel is tested against.
func genericTile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	const MR, NR = 4, 4
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:kc*MR]
	b = b[:kc*NR]
	for p := 0; p < kc; p++ {
		av := a[p*MR : p*MR+MR : p*MR+MR]
		bv := b[p*NR : p*NR+NR : p*NR+NR]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		a0 := av[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := av[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := av[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := av[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [MR * NR]float32{
		c00, c01, c02, c03,
		c10, c11, c12, c13,
		c20, c21, c22, c23,
		c30, c31, c32, c33,
	}
	epilogue(acc[:], NR, c, ldc, bias, res, flags, mr, nr, lo, hi)
}
