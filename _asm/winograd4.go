package main

import (
	"fmt"
	"math"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Winograd F(4x4, 3x3)'s transforms (internal/infer's winograd4.go has the
// same matrices, and the derivation). The kernels are generated from the
// matrices: a coefficient ±1 is an addition or subtraction, any other an
// FMA with the constant broadcast in a register.
var (
	winoBT4 = [6][6]float64{
		{1, -1.5, -2, 1.5, 1, 0},
		{0, -1, 0.5, 2.5, 1, 0},
		{0, 1, -2.5, 0.5, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 0.5, -1, -0.5, 1, 0},
		{0, 1, -1.5, -2, 1.5, 1},
	}
	winoAT4 = [4][6]float64{
		{1, 1, 1, 1, 1, 0},
		{0, 1, -1, 0.5, -2, 0},
		{0, 1, 1, 0.25, 4, 0},
		{0, 1, -1, 0.125, -8, 1},
	}
)

// wino4 emits both F(4x4) kernels (called from winoOut, after F(2x2)'s),
// then the phase splits of both tile sizes (winosplit.go).
func wino4() {
	winoIn4(true)
	winoOut4()
	winoIn4(false)
	winoOut4AVX2()
	winoSplit()
}

// winoConsts broadcasts the magnitudes of the coefficients other than 0 and
// ±1 of the rows into registers.
func winoConsts(name string, vec func() VecVirtual, rows ...[]float64) map[float64]Op {
	vals := coefficients(rows...)
	tab := GLOBL(name, RODATA|NOPTR)
	consts := map[float64]Op{}
	for i, v := range vals {
		DATA(4*i, U32(math.Float32bits(float32(v)))) // F32 prints 1.0 as $(1), an integer
		z := vec()
		VBROADCASTSS(tab.Offset(4*i), z)
		consts[v] = z
	}
	return consts
}

// coefficients returns the distinct magnitudes other than 0 and 1 of rows.
func coefficients(rows ...[]float64) []float64 {
	var vals []float64
	seen := map[float64]bool{}
	for _, r := range rows {
		for _, c := range r {
			if a := math.Abs(c); a != 0 && a != 1 && !seen[a] {
				seen[a] = true
				vals = append(vals, a)
			}
		}
	}
	return vals
}

// fma emits dst += a*b (dst -= a*b if neg); of a and b, at most one is in
// memory, and it goes first.
func fma(neg bool, a, b Op, dst VecVirtual) {
	if _, ok := b.(Mem); ok {
		a, b = b, a
	}
	if neg {
		VFNMADD231PS(a, b, dst)
	} else {
		VFMADD231PS(a, b, dst)
	}
}

// lincomb emits dst = sum_j c[j] * src(j) over the nonzero c[j]; the first
// term taken has coefficient 1 (every row of the matrices has one).
func lincomb(dst VecVirtual, c []float64, src func(j int) Op, consts map[float64]Op) {
	first := -1
	for j, v := range c {
		if v == 1 {
			first = j
			break
		}
	}
	if first < 0 {
		panic(fmt.Sprintf("lincomb: no coefficient 1 in %v", c))
	}
	VMOVUPS(src(first), dst)
	for j, v := range c {
		switch {
		case j == first || v == 0:
		case v == 1:
			VADDPS(src(j), dst, dst)
		case v == -1:
			VSUBPS(src(j), dst, dst)
		default:
			fma(v < 0, src(j), consts[math.Abs(v)], dst)
		}
	}
}

// accumulate emits dst += c * x, or dst = x when !init (the first term of
// every row of A^T has coefficient 1).
func accumulate(dst, x VecVirtual, c float64, init bool, consts map[float64]Op) {
	switch {
	case !init && c == 1:
		VMOVAPS(x, dst)
	case !init:
		panic(fmt.Sprintf("accumulate: first coefficient %v", c))
	case c == 1:
		VADDPS(x, dst, dst)
	case c == -1:
		VSUBPS(x, dst, dst)
	default:
		fma(c < 0, x, consts[math.Abs(c)], dst)
	}
}

// winoIn4 emits winoIn4AVX512 (avx512) or winoIn4AVX2, F(4x4)'s input
// transform for n tiles of one tile row, 16 (8) at a time. rows holds 24
// arrays ws floats apart: the four phases (columns mod 4) of the six
// zero-padded input rows, row i's phase p at (4i+p)*ws, so tile t's 6x6
// patch has d[i][j] = phase j%4 of row i at t + j/4. It writes
// (B^T d B)[ξ], ξ = 6*row + column, of tile t to out[ξ*stride + t]; the
// arrays must be readable 16 floats past n+1.
func winoIn4(avx512 bool) {
	name, vec, lanes, sfx := "winoIn4AVX2", YMM, 8, "Y"
	doc := "winoIn4AVX2 is winoIn4AVX512 in AVX2 (see the generator)."
	if avx512 {
		name, vec, lanes, sfx = "winoIn4AVX512", ZMM, 16, ""
		doc = "winoIn4AVX512 is Winograd F(4x4,3x3)'s input transform of n tiles (see the generator)."
	}
	TEXT(name, NOSPLIT, "func(rows *float32, ws int, out *float32, stride int, n int)")
	Pragma("noescape")
	Doc(doc)
	rp := Load(Param("rows"), GP64())
	ws := Load(Param("ws"), GP64())
	SHLQ(U8(2), ws)
	op := Load(Param("out"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	n := Load(Param("n"), GP64())
	ws3 := GP64()
	LEAQ(Mem{Base: ws, Index: ws, Scale: 2}, ws3)
	var row [6]GPVirtual // row i's phase 0
	for i := range row {
		row[i] = GP64()
		if i == 0 {
			MOVQ(rp, row[i])
		} else {
			LEAQ(Mem{Base: row[i-1], Index: ws, Scale: 4}, row[i])
		}
	}
	var cs [][]float64
	for _, r := range winoBT4 {
		cs = append(cs, r[:])
	}
	consts := winoConsts("wino4InConsts"+sfx, vec, cs...)
	loop, done := "winoin4"+strings.ToLower(sfx)+"_loop", "winoin4"+strings.ToLower(sfx)+"_done"
	Label(loop)
	TESTQ(n, n)
	JLE(LabelRef(done))
	store := func(v VecVirtual, m Mem) { VMOVUPS(v, K1, m) }
	if avx512 {
		tailMask(n.(GPVirtual), K1)
	} else {
		mb := GP64()
		maskBase(n.(GPVirtual), 1, mb)
		mask := YMM()
		VMOVDQU(Mem{Base: mb}, mask)
		store = func(v VecVirtual, m Mem) { VMASKMOVPS(v, mask, m) }
	}
	col, dst := GP64(), GP64()
	MOVQ(op, col)
	for l := range 6 { // column l of the result: (d B)[k][l] for every k, then B^T of it
		var e [6]VecVirtual
		for k := range 6 {
			e[k] = vec()
			lincomb(e[k], winoBT4[l][:], func(j int) Op {
				return phaseMem(row[k], ws, ws3, j%4, 4*(j/4))
			}, consts)
		}
		MOVQ(col, dst)
		for i := range 6 {
			v := vec()
			lincomb(v, winoBT4[i][:], func(k int) Op { return e[k] }, consts)
			store(v, Mem{Base: dst})
			if i < 5 { // dst += 6*stride: the next row of the result
				LEAQ(Mem{Base: dst, Index: stride, Scale: 4}, dst)
				LEAQ(Mem{Base: dst, Index: stride, Scale: 2}, dst)
			}
		}
		ADDQ(stride, col)
	}
	for i := range row {
		ADDQ(U8(4*lanes), row[i])
	}
	ADDQ(U8(4*lanes), op)
	SUBQ(U8(lanes), n)
	JMP(LabelRef(loop))
	Label(done)
	VZEROUPPER()
	RET()
}

// winoOut4Head starts an output transform kernel: its arguments loaded,
// the strides in bytes, s3 and s5 three and five times stride.
func winoOut4Head(name, doc string) (mp, stride, s3, s5, n, op, ldo GPVirtual) {
	TEXT(name, NOSPLIT, "func(m *float32, stride int, n int, out *float32, ldo int, bias *float32, relu bool)")
	Pragma("noescape")
	Doc(doc)
	mp = Load(Param("m"), GP64()).(GPVirtual)
	stride = Load(Param("stride"), GP64()).(GPVirtual)
	SHLQ(U8(2), stride)
	n = Load(Param("n"), GP64()).(GPVirtual)
	op = Load(Param("out"), GP64()).(GPVirtual)
	ldo = Load(Param("ldo"), GP64()).(GPVirtual)
	SHLQ(U8(2), ldo)
	s3, s5 = GP64(), GP64()
	LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, s3)
	LEAQ(Mem{Base: stride, Index: stride, Scale: 4}, s5)
	return mp, stride, s3, s5, n, op, ldo
}

// winoOut4 emits winoOut4AVX512, F(4x4)'s output transform for n whole
// tiles of one tile row and one output channel, 16 at a time: from
// m[ξ*stride + t] it writes Y = A^T m A + bias (then max(0, Y) if relu),
// row r of tile t to out[r*ldo + 4t : r*ldo + 4t + 4]. The m rows must be
// readable 16 floats past n.
func winoOut4() {
	il := GLOBL("wino4Interleave", RODATA|NOPTR)
	for i := range 16 { // qwords of two vectors interleaved: a0 b0 a1 b1 ... a7 b7
		DATA(8*i, U64(uint64(i/2+8*(i%2))))
	}
	mp, stride, s3, s5, n, op, ldo := winoOut4Head("winoOut4AVX512",
		"winoOut4AVX512 is Winograd F(4x4,3x3)'s output transform of n whole tiles (see the generator).")
	bp := Load(Param("bias"), GP64())
	relu := Load(Param("relu"), GP8())
	bias := ZMM()
	VBROADCASTSS(Mem{Base: bp}, bias)
	var cs [][]float64
	for _, r := range winoAT4 {
		cs = append(cs, r[:])
	}
	consts := winoConsts("wino4OutConsts", ZMM, cs...)
	Label("winoout4_loop")
	TESTQ(n, n)
	JLE(LabelRef("winoout4_done"))
	// Masks of the four 16-float quarters of each output row: 4n floats.
	masks := []Register{K1, K2, K3, K4}
	cnt, zero64 := GP64(), GP64()
	XORQ(zero64, zero64)
	for v, k := range masks {
		MOVQ(n, cnt)
		SHLQ(U8(2), cnt)
		if v > 0 {
			SUBQ(U8(16*v), cnt)
			CMPQ(cnt, U8(0))
			CMOVQLT(zero64, cnt)
		}
		tailMask(cnt, k)
	}
	// Y[r][c] = sum_i A^T[r][i] f[i][c], f[i][c] = sum_j m[i][j] A^T[c][j]:
	// each row i of m is read once and folded into the 16 accumulators.
	var y [4][4]VecVirtual
	for r := range y {
		for c := range y[r] {
			y[r][c] = ZMM()
		}
	}
	init := [4]bool{}
	p := GP64()
	MOVQ(mp, p)
	for i := range 6 {
		var f [4]VecVirtual
		for c := range f {
			f[c] = ZMM()
			lincomb(f[c], winoAT4[c][:], func(j int) Op {
				m := Mem{Base: p}
				switch j {
				case 1, 2, 4:
					m.Index, m.Scale = stride, uint8(j)
				case 3:
					m.Index, m.Scale = s3, 1
				case 5:
					m.Index, m.Scale = s5, 1
				}
				return m
			}, consts)
		}
		for r := range y {
			if winoAT4[r][i] == 0 {
				continue
			}
			for c := range y[r] {
				accumulate(y[r][c], f[c], winoAT4[r][i], init[r], consts)
			}
			init[r] = true
		}
		if i < 5 { // p += 6*stride: row i+1 of m
			LEAQ(Mem{Base: p, Index: stride, Scale: 4}, p)
			LEAQ(Mem{Base: p, Index: stride, Scale: 2}, p)
		}
	}
	zero := ZMM()
	VXORPS(zero, zero, zero)
	o := GP64()
	MOVQ(op, o)
	for r := range y {
		for c := range y[r] {
			VADDPS(bias, y[r][c], y[r][c])
		}
		skip := fmt.Sprintf("winoout4_norelu%d", r)
		TESTB(relu, relu)
		JZ(LabelRef(skip))
		for c := range y[r] {
			VMAXPS(y[r][c], zero, y[r][c]) // max(0, y): y when y is NaN
		}
		Label(skip)
		// 4x16 to 16x4: pairs of floats interleaved, then pairs of pairs.
		var pr [4]VecVirtual // (y0, y1) low, high; (y2, y3) low, high
		for h := range 2 {
			for lh := range 2 {
				pr[2*h+lh] = ZMM()
				VMOVUPS(winoInterleaveTab.Offset(64*lh), pr[2*h+lh])
				VPERMI2PS(y[r][2*h+1], y[r][2*h], pr[2*h+lh])
			}
		}
		for lh := range 2 { // tiles 8lh..8lh+3, then 8lh+4..8lh+7
			for q := range 2 {
				x := ZMM()
				VMOVUPD(il.Offset(64*q), x)
				VPERMI2PD(pr[2+lh], pr[lh], x)
				VMOVUPS(x, masks[2*lh+q], Mem{Base: o, Disp: 64 * (2*lh + q)})
			}
		}
		ADDQ(ldo, o)
	}
	ADDQ(U32(256), op)
	ADDQ(U8(64), mp)
	SUBQ(U8(16), n)
	JMP(LabelRef("winoout4_loop"))
	Label("winoout4_done")
	VZEROUPPER()
	RET()
}
