package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// winoSplit emits winoSplit4AVX512 and winoSplit2AVX512, which split rows
// input rows, zero-padded, into their phases (columns mod m, m 4 or 2) for
// the Winograd input transforms in one call:
//
//	dst[r*m*ws + p*ws + t] = src[r*w + m*t + p - pl]  (0 where outside the row)
//
// for r < rows, p < m, t < n, 16 tiles at a time. The padding is in the
// loads' masks: masks[g*m+v] holds the lanes of the g-th 16 tiles' v-th
// vector that fall in the row (the same for every row), so the loads touch
// nothing outside it; the stores write only the n floats of each phase.
func winoSplit() {
	for _, m := range []int{4, 2} {
		winoSplitM(m)
	}
}

// winoSplitM emits winoSplit<m>AVX512. With m = 4 the four vectors of 16
// tiles are each permuted into their four tiles' phases, one 128-bit lane a
// phase, and two rounds of lane shuffles gather each phase; with m = 2 the
// two vectors give the evens and the odds with a two-table permute each.
func winoSplitM(m int) {
	name := fmt.Sprintf("winoSplit%dAVX512", m)
	idx := GLOBL(fmt.Sprintf("winoSplit%dIndex", m), RODATA|NOPTR)
	for i := range 32 {
		if m == 4 { // lane 4p+j of a vector takes its tile j's phase p (twice: 32 entries)
			DATA(4*i, U32(4*(i%4)+(i%16)/4))
		} else { // evens, then odds
			DATA(4*i, U32(2*(i%16)+i/16))
		}
	}
	TEXT(name, NOSPLIT, "func(dst *float32, ws int, src *float32, w, pl, rows, n int, masks *uint16)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets dst[r*%d*ws+p*ws+t] to the zero-padded src[r*w+%d*t+p-pl] for r < rows, p < %d, t < n (see the generator).", name, m, m, m))
	dp := Load(Param("dst"), GP64())
	ws := Load(Param("ws"), GP64())
	SHLQ(U8(2), ws)
	sp := Load(Param("src"), GP64())
	w := Load(Param("w"), GP64())
	SHLQ(U8(2), w)
	pl := Load(Param("pl"), GP64())
	SHLQ(U8(2), pl)
	SUBQ(pl, sp) // padded column 0; its masked-off lanes are never read
	rows := Load(Param("rows"), GP64())
	n := Load(Param("n"), GP64())
	mp := Load(Param("masks"), GP64())
	ws3 := GP64()
	LEAQ(Mem{Base: ws, Index: ws, Scale: 2}, ws3)
	rowStep := GP64() // m*ws bytes: the next row's phases
	MOVQ(ws, rowStep)
	SHLQ(U8(map[int]uint8{2: 1, 4: 2}[m]), rowStep)
	ix, io := ZMM(), ZMM()
	VMOVUPS(idx, ix)
	if m == 2 {
		VMOVUPS(idx.Offset(64), io)
	}
	rowLoop, done := fmt.Sprintf("winosplit%d_row", m), fmt.Sprintf("winosplit%d_done", m)
	Label(rowLoop)
	TESTQ(rows, rows)
	JLE(LabelRef(done))
	s, d, cnt, mk := GP64(), GP64(), GP64(), GP64()
	MOVQ(sp, s)
	MOVQ(dp, d)
	MOVQ(n, cnt)
	MOVQ(mp, mk)
	groupLoop, groupDone := fmt.Sprintf("winosplit%d_group", m), fmt.Sprintf("winosplit%d_gdone", m)
	Label(groupLoop)
	TESTQ(cnt, cnt)
	JLE(LabelRef(groupDone))
	tailMask(cnt.(GPVirtual), K1)
	z := make([]VecVirtual, m)
	for v := range z {
		z[v] = ZMM()
		KMOVW(Mem{Base: mk, Disp: 2 * v}, K2)
		VMOVUPS_Z(Mem{Base: s, Disp: 64 * v}, K2, z[v])
	}
	phase := func(p int) Mem { return phaseMem(d, ws, ws3, p, 0) }
	if m == 4 {
		for v := range z {
			VPERMPS(z[v], ix, z[v])
		}
		// a, b: phases 0-1 and 2-3 of tiles 0-7; c, e: of tiles 8-15.
		a, b, c, e := ZMM(), ZMM(), ZMM(), ZMM()
		VSHUFF32X4(U8(0x44), z[1], z[0], a)
		VSHUFF32X4(U8(0xee), z[1], z[0], b)
		VSHUFF32X4(U8(0x44), z[3], z[2], c)
		VSHUFF32X4(U8(0xee), z[3], z[2], e)
		for p, sh := range [4]struct {
			imm  uint8
			x, y VecVirtual
		}{{0x88, a, c}, {0xdd, a, c}, {0x88, b, e}, {0xdd, b, e}} {
			o := ZMM()
			VSHUFF32X4(U8(sh.imm), sh.y, sh.x, o)
			VMOVUPS(o, K1, phase(p))
		}
	} else {
		ev, od := ZMM(), ZMM()
		VMOVUPS(z[0], ev)
		VPERMT2PS(z[1], ix, ev)
		VMOVUPS(z[0], od)
		VPERMT2PS(z[1], io, od)
		VMOVUPS(ev, K1, phase(0))
		VMOVUPS(od, K1, phase(1))
	}
	ADDQ(U32(64*m), s)
	ADDQ(U32(64), d)
	ADDQ(U32(2*m), mk)
	SUBQ(U32(16), cnt)
	JMP(LabelRef(groupLoop))
	Label(groupDone)
	ADDQ(w, sp)
	ADDQ(rowStep, dp)
	DECQ(rows)
	JMP(LabelRef(rowLoop))
	Label(done)
	VZEROUPPER()
	RET()
}

// phaseMem addresses phase p < 4 of the arrays ws bytes apart from base
// (ws3 = 3*ws), disp bytes in.
func phaseMem(base, ws, ws3 Register, p, disp int) Mem {
	m := Mem{Base: base, Disp: disp}
	switch p {
	case 1:
		m.Index, m.Scale = ws, 1
	case 2:
		m.Index, m.Scale = ws, 2
	case 3:
		m.Index, m.Scale = ws3, 1
	}
	return m
}
