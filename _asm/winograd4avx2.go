package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 version of winoOut4 (same arguments and layouts; winoIn4 emits
// both input transforms), 8 tiles at a time, for CPUs without AVX-512. Tails are stored through
// VMASKMOVPS masks read from wino4MaskY: 32 all-ones lanes then 32 zero
// lanes, so the 8 lanes from 32-k on are the mask of the first k floats.

var wino4MaskY Mem

// maskTable emits wino4MaskY once.
func maskTable() Mem {
	if wino4MaskY.Symbol.Name == "" {
		wino4MaskY = GLOBL("wino4MaskY", RODATA|NOPTR)
		for i := range 64 {
			v := uint32(0)
			if i < 32 {
				v = 0xffffffff
			}
			DATA(4*i, U32(v))
		}
	}
	return wino4MaskY
}

// maskBase sets mb to wino4MaskY + 4*(32 - per*min(n, 8)): the mask of the
// first per*min(n, 8) floats is at mb, of the floats from 8v on at mb+32v.
func maskBase(n GPVirtual, per int, mb GPVirtual) {
	nn := GP64()
	MOVQ(U32(8), nn)
	CMPQ(n, nn)
	CMOVQLT(n, nn)
	LEAQ(maskTable().Offset(128), mb)
	for range per {
		SUBQ(nn, mb)
		SUBQ(nn, mb)
		SUBQ(nn, mb)
		SUBQ(nn, mb)
	}
}

// winoOut4AVX2 is winoOut4 in AVX2: two output rows at a time (16 ymm
// registers hold eight accumulators, the six m values of a row and one
// f), the constants read from memory.
func winoOut4AVX2() {
	mp, stride, s3, s5, n, op, ldo := winoOut4Head("winoOut4AVX2", "winoOut4AVX2 is winoOut4AVX512 in AVX2 (see the generator).")
	relu, err := Param("relu").Resolve()
	if err != nil {
		panic(err)
	}
	var cs [][]float64
	for _, r := range winoAT4 {
		cs = append(cs, r[:])
	}
	tab := GLOBL("wino4OutConstsY", RODATA|NOPTR)
	consts := map[float64]Op{}
	for i, v := range coefficients(cs...) {
		for j := range 8 {
			DATA(32*i+4*j, U32(math.Float32bits(float32(v))))
		}
		consts[v] = tab.Offset(32 * i)
	}
	Label("winoout4y_loop")
	TESTQ(n, n)
	JLE(LabelRef("winoout4y_done"))
	mb := GP64()
	maskBase(n.(GPVirtual), 4, mb)
	o := GP64()
	MOVQ(op, o)
	for half := range 2 {
		var y [2][4]VecVirtual
		for r := range y {
			for c := range y[r] {
				y[r][c] = YMM()
			}
		}
		init := [2]bool{}
		p := GP64()
		MOVQ(mp, p)
		for i := range 6 {
			if winoAT4[2*half][i] != 0 || winoAT4[2*half+1][i] != 0 {
				var m [6]VecVirtual
				for j := range m {
					m[j] = YMM()
					a := Mem{Base: p}
					switch j {
					case 1, 2, 4:
						a.Index, a.Scale = stride, uint8(j)
					case 3:
						a.Index, a.Scale = s3, 1
					case 5:
						a.Index, a.Scale = s5, 1
					}
					VMOVUPS(a, m[j])
				}
				for c := range 4 {
					f := YMM()
					lincomb(f, winoAT4[c][:], func(j int) Op { return m[j] }, consts)
					for rr := range 2 {
						if a := winoAT4[2*half+rr][i]; a != 0 {
							accumulate(y[rr][c], f, a, init[rr], consts)
						}
					}
				}
				for rr := range 2 {
					init[rr] = init[rr] || winoAT4[2*half+rr][i] != 0
				}
			}
			if i < 5 {
				LEAQ(Mem{Base: p, Index: stride, Scale: 4}, p)
				LEAQ(Mem{Base: p, Index: stride, Scale: 2}, p)
			}
		}
		for rr := range 2 {
			r := 2*half + rr
			bp := Load(Param("bias"), GP64())
			b := YMM()
			VBROADCASTSS(Mem{Base: bp}, b)
			for c := range 4 {
				VADDPS(b, y[rr][c], y[rr][c])
			}
			skip := fmt.Sprintf("winoout4y_norelu%d", r)
			CMPB(relu.Addr, U8(0))
			JE(LabelRef(skip))
			zero := YMM()
			VXORPS(zero, zero, zero)
			for c := range 4 {
				VMAXPS(y[rr][c], zero, y[rr][c])
			}
			Label(skip)
			// 4x8 to 8x4: a0 b0 c0 d0 a1 b1 c1 d1 ...
			a, bb, c, d := y[rr][0], y[rr][1], y[rr][2], y[rr][3]
			t0, t1, t2, t3 := YMM(), YMM(), YMM(), YMM()
			VUNPCKLPS(bb, a, t0) // a0 b0 a1 b1 | a4 b4 a5 b5
			VUNPCKHPS(bb, a, t1) // a2 b2 a3 b3 | a6 b6 a7 b7
			VUNPCKLPS(d, c, t2)
			VUNPCKHPS(d, c, t3)
			u0, u1, u2, u3 := YMM(), YMM(), YMM(), YMM()
			VUNPCKLPD(t2, t0, u0) // tile 0 | tile 4
			VUNPCKHPD(t2, t0, u1) // tile 1 | tile 5
			VUNPCKLPD(t3, t1, u2) // tile 2 | tile 6
			VUNPCKHPD(t3, t1, u3) // tile 3 | tile 7
			outs := [4]VecVirtual{YMM(), YMM(), YMM(), YMM()}
			VPERM2F128(U8(0x20), u1, u0, outs[0]) // tiles 0, 1
			VPERM2F128(U8(0x20), u3, u2, outs[1]) // tiles 2, 3
			VPERM2F128(U8(0x31), u1, u0, outs[2]) // tiles 4, 5
			VPERM2F128(U8(0x31), u3, u2, outs[3]) // tiles 6, 7
			for v := range outs {
				mk := YMM()
				VMOVDQU(Mem{Base: mb, Disp: 32 * v}, mk)
				VMASKMOVPS(outs[v], mk, Mem{Base: o, Disp: 32 * v})
			}
			ADDQ(ldo, o)
		}
	}
	ADDQ(U32(128), op)
	ADDQ(U8(32), mp)
	SUBQ(U8(8), n)
	JMP(LabelRef("winoout4y_loop"))
	Label("winoout4y_done")
	VZEROUPPER()
	RET()
}
