package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// tailMask sets k to the low min(n, 16) bits (n >= 1), for the last
// vector of a row.
// (BZHI reads only the index's low byte, so n is clamped to 16 first.)
func tailMask(n GPVirtual, k Register) {
	c := GP64()
	MOVQ(U32(16), c)
	CMPQ(n, c)
	CMOVQLT(n, c)
	ones, m := GP32(), GP32()
	MOVL(U32(0xffff), ones)
	BZHIL(c.(GPVirtual).As32(), ones, m)
	KMOVW(m, k)
}

// winoIn emits winoInAVX512, Winograd F(2x2,3x3)'s input transform for n
// tiles of one tile row, 16 at a time. rows holds eight arrays ws floats
// apart: the even and odd columns of the four zero-padded input rows of the
// tile row (E0, O0, E1, O1, E2, O2, E3, O3), so tile t's 4x4 patch d has
// d[i][0..3] = Ei[t], Oi[t], Ei[t+1], Oi[t+1]. It writes (B^T d B)[ξ] of
// tile t to out[ξ*stride + t]; the arrays must be readable 16 floats past
// n+1.
func winoIn() {
	TEXT("winoInAVX512", NOSPLIT, "func(rows *float32, ws int, out *float32, stride int, n int)")
	Pragma("noescape")
	Doc("winoInAVX512 is Winograd F(2x2,3x3)'s input transform of n tiles (see the generator).")
	rp := Load(Param("rows"), GP64())
	ws := Load(Param("ws"), GP64())
	SHLQ(U8(2), ws)
	op := Load(Param("out"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	n := Load(Param("n"), GP64())
	ptr := make([]Register, 8) // E0, O0, ... O3
	for r := range ptr {
		ptr[r] = GP64()
		MOVQ(rp, ptr[r])
		if r > 0 {
			for range r {
				ADDQ(ws, ptr[r])
			}
		}
	}
	Label("winoin_loop")
	TESTQ(n, n)
	JLE(LabelRef("winoin_done"))
	tailMask(n.(GPVirtual), K1)
	var t [4][4]VecVirtual // t[i][j] = (B^T d)[i][j]
	for j := range 4 {
		var d [4]VecVirtual
		for i := range 4 {
			d[i] = ZMM()
			src := Mem{Base: ptr[2*i+j%2], Disp: 4 * (j / 2)}
			VMOVUPS(src, d[i])
		}
		t[0][j], t[1][j], t[2][j], t[3][j] = ZMM(), ZMM(), ZMM(), ZMM()
		VSUBPS(d[2], d[0], t[0][j]) // d0 - d2
		VADDPS(d[2], d[1], t[1][j]) // d1 + d2
		VSUBPS(d[1], d[2], t[2][j]) // d2 - d1
		VSUBPS(d[3], d[1], t[3][j]) // d1 - d3
	}
	dst := GP64()
	MOVQ(op, dst)
	for i := range 4 {
		v := [4]VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
		VSUBPS(t[i][2], t[i][0], v[0])
		VADDPS(t[i][2], t[i][1], v[1])
		VSUBPS(t[i][1], t[i][2], v[2])
		VSUBPS(t[i][3], t[i][1], v[3])
		for j := range 4 {
			VMOVUPS(v[j], K1, Mem{Base: dst})
			ADDQ(stride, dst)
		}
	}
	for r := range ptr {
		ADDQ(U8(64), ptr[r])
	}
	ADDQ(U8(64), op)
	SUBQ(U8(16), n)
	JMP(LabelRef("winoin_loop"))
	Label("winoin_done")
	VZEROUPPER()
	RET()
}

// winoOut emits winoOutAVX512, Winograd F(2x2,3x3)'s output transform for
// n whole tiles of one tile row and one output channel, 16 at a time: from
// m[ξ*stride + t] it writes Y = A^T m A + bias (then max(0, Y) if relu) to
// out0[2t], out0[2t+1] (the upper output row) and out1[2t], out1[2t+1].
// The m rows must be readable 16 floats past n.
func winoOut() {
	lo := GLOBL("winoInterleave", RODATA|NOPTR)
	winoInterleaveTab = lo
	for i := range 32 { // lanes of two vectors interleaved: a0 b0 a1 b1 ... a15 b15
		DATA(4*i, U32(i/2+16*(i%2)))
	}
	TEXT("winoOutAVX512", NOSPLIT, "func(m *float32, stride int, n int, out0, out1, bias *float32, relu bool)")
	Pragma("noescape")
	Doc("winoOutAVX512 is Winograd F(2x2,3x3)'s output transform of n whole tiles (see the generator).")
	mp := Load(Param("m"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	n := Load(Param("n"), GP64())
	o0 := Load(Param("out0"), GP64())
	o1 := Load(Param("out1"), GP64())
	bp := Load(Param("bias"), GP64())
	relu := Load(Param("relu"), GP8())
	bias := ZMM()
	VBROADCASTSS(Mem{Base: bp}, bias)
	zero := ZMM()
	VPXORD(zero, zero, zero)
	Label("winoout_loop")
	TESTQ(n, n)
	JLE(LabelRef("winoout_done"))
	// Masks of the two 16-float halves of each output row: 2n floats.
	n2 := GP64()
	MOVQ(n, n2)
	SHLQ(U8(1), n2)
	tailMask(n2.(GPVirtual), K1)
	SUBQ(U8(16), n2)
	hiZero := GP64()
	XORQ(hiZero, hiZero)
	CMPQ(n2, U8(0))
	CMOVQLT(hiZero, n2)
	tailMask(n2.(GPVirtual), K2)
	var r [2][4]VecVirtual // A^T m: r[0][j] = m0j+m1j+m2j, r[1][j] = m1j-m2j-m3j
	for j := range 4 {
		var s [4]VecVirtual
		for i := range 4 {
			s[i] = ZMM()
			addr := GP64()
			MOVQ(mp, addr)
			for range 4*i + j {
				ADDQ(stride, addr)
			}
			VMOVUPS(Mem{Base: addr}, s[i])
		}
		r[0][j], r[1][j] = ZMM(), ZMM()
		VADDPS(s[1], s[0], r[0][j])
		VADDPS(s[2], r[0][j], r[0][j])
		VSUBPS(s[2], s[1], r[1][j])
		VSUBPS(s[3], r[1][j], r[1][j])
	}
	for row, out := range []Register{o0, o1} {
		a, b := ZMM(), ZMM()
		VADDPS(r[row][1], r[row][0], a) // y0 = r0 + r1 + r2
		VADDPS(r[row][2], a, a)
		VSUBPS(r[row][2], r[row][1], b) // y1 = r1 - r2 - r3
		VSUBPS(r[row][3], b, b)
		VADDPS(bias, a, a)
		VADDPS(bias, b, b)
		skip := fmt.Sprintf("winoout_norelu%d", row)
		TESTB(relu, relu)
		JZ(LabelRef(skip))
		VMAXPS(a, zero, a) // max(0, y): y when y is NaN
		VMAXPS(b, zero, b)
		Label(skip)
		x0, x1 := ZMM(), ZMM()
		VMOVUPS(lo, x0)
		VPERMI2PS(b, a, x0) // a0 b0 a1 b1 ... a7 b7
		VMOVUPS(lo.Offset(64), x1)
		VPERMI2PS(b, a, x1) // a8 b8 ... a15 b15
		VMOVUPS(x0, K1, Mem{Base: out})
		VMOVUPS(x1, K2, Mem{Base: out, Disp: 64})
		ADDQ(U8(128), out)
	}
	ADDQ(U8(64), mp)
	SUBQ(U8(16), n)
	JMP(LabelRef("winoout_loop"))
	Label("winoout_done")
	VZEROUPPER()
	RET()
	wino4() // F(4x4)'s kernels follow F(2x2)'s in the generated file
}

// winoInterleaveTab is winoOut's table, which wino4 reuses.
var winoInterleaveTab Mem
