// Command _asm generates internal/gemm's amd64 micro-kernels with avo:
//
//	go run . -out ../internal/gemm/gemm_amd64.s -stubs ../internal/gemm/kernels_amd64.go -pkg gemm
//
// (internal/gemm's go:generate directive runs exactly this.)
//
// Both kernels compute one MR x NR tile of C = A*B from packed panels
// (A: kc x MR, B: kc x NR, both row-major), broadcasting one A element per
// row and loading NR-wide rows of B, with the accumulators held in
// registers for the whole k loop. The epilogue then adds C (for k blocks
// after the first), the per-row bias, the residual, and clamps at zero, as
// the flags say; it matches gemm.genericTile exactly.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Flags; keep in sync with internal/gemm/gemm.go.
const (
	flagAccum = 1 << iota
	flagBias
	flagRes
	flagReLU
)

func main() {
	ConstraintExpr("!purego")
	avx512("tileAVX512", 12, 32)
	avx512("tileAVX512N16", 12, 16) // for n <= 16 (the FC layer at small batch)
	avx2(6, 16)
	copyPanels("copyPanels32", 32, 64, true)
	copyPanels("copyPanels16", 16, 32, false)
	gemv()
	winoIn()
	winoOut()
	maxInto()
	fmaPeak("peakAVX512", 24, true)
	fmaPeak("peakAVX2", 12, false)
	Generate()
}

// avx512 emits an MR x NR (NR = 16 or 32) kernel with MR*NR/16 zmm
// accumulators. Rows past the argument mr are skipped; columns are masked
// by mask (bit j for column j), so one kernel serves edge tiles too and
// never touches C outside the tile.
func avx512(fname string, MR, NR int) {
	const vec = 16
	nv := NR / vec
	TEXT(fname, NOSPLIT, "func(kc int, a, b, c *float32, ldc int, bias, res *float32, flags, mr int, mask uint32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes one %dx%d tile of C; see tileFunc.", fname, MR, NR))
	kc := Load(Param("kc"), RAX)
	ap := Load(Param("a"), RSI)
	bp := Load(Param("b"), RDI)

	acc := make([][]VecPhysical, MR)
	for i := range acc {
		acc[i] = make([]VecPhysical, nv)
		for v := range nv {
			acc[i][v] = zmm(i*nv + v)
			VPXORD(acc[i][v], acc[i][v], acc[i][v])
		}
	}
	bv := []VecPhysical{zmm(MR * nv), zmm(MR*nv + 1)}[:nv]
	var bc []VecPhysical // broadcast registers, used in turn
	for r := MR*nv + nv; r < 32 && len(bc) < 4; r++ {
		bc = append(bc, zmm(r))
	}
	if len(bc) < 2 {
		panic("too many zmm registers")
	}

	step := func(p int) {
		for v := range nv {
			VMOVUPS(Mem{Base: bp, Disp: 4 * (p*NR + v*vec)}, bv[v])
		}
		for i := range MR {
			t := bc[i%len(bc)]
			VBROADCASTSS(Mem{Base: ap, Disp: 4 * (p*MR + i)}, t)
			for v := range nv {
				VFMADD231PS(bv[v], t, acc[i][v])
			}
		}
	}
	kLoops(kc, ap, bp, MR, NR, step, true)

	// Epilogue.
	cp := Load(Param("c"), RDX)
	ldc := Load(Param("ldc"), RCX)
	SHLQ(U8(2), ldc)
	bias := Load(Param("bias"), R8)
	rp := Load(Param("res"), R9)
	flags := Load(Param("flags"), R10)
	mr := Load(Param("mr"), R11)
	mask := Load(Param("mask"), R12L)
	masks := []Register{K1, K2}
	KMOVW(mask, K1)
	SHRL(U8(16), mask)
	KMOVW(mask, K2)
	zero := zmm(31)
	VPXORD(zero, zero, zero)
	for i := range MR {
		if i > 0 {
			CMPQ(mr, U32(i))
			JLE(LabelRef(fname + "_done"))
		}
		onFlag(flags, flagAccum, fmt.Sprintf("%s_row%d_accum", fname, i), func() {
			for v := range nv {
				VADDPS_Z(Mem{Base: cp, Disp: 64 * v}, acc[i][v], masks[v], acc[i][v])
			}
		})
		onFlag(flags, flagBias, fmt.Sprintf("%s_row%d_bias", fname, i), func() {
			for v := range nv {
				VADDPS_BCST(Mem{Base: bias, Disp: 4 * i}, acc[i][v], acc[i][v])
			}
		})
		onFlag(flags, flagRes, fmt.Sprintf("%s_row%d_res", fname, i), func() {
			for v := range nv {
				VADDPS_Z(Mem{Base: rp, Disp: 64 * v}, acc[i][v], masks[v], acc[i][v])
			}
		})
		onFlag(flags, flagReLU, fmt.Sprintf("%s_row%d_relu", fname, i), func() {
			for v := range nv {
				// max(0, x) returns its second operand x when x is NaN.
				VMAXPS(acc[i][v], zero, acc[i][v])
			}
		})
		for v := range nv {
			VMOVUPS(acc[i][v], masks[v], Mem{Base: cp, Disp: 64 * v})
		}
		if i < MR-1 {
			ADDQ(ldc, cp)
			ADDQ(ldc, rp)
		}
	}
	Label(fname + "_done")
	VZEROUPPER()
	RET()
}

// avx2 emits tileAVX2: a full mr x 16 tile in 2*mr ymm accumulators. It has
// no masking: the Go side runs edge tiles into a scratch tile.
func avx2(MR, NR int) {
	const vec = 8
	nv := NR / vec
	TEXT("tileAVX2", NOSPLIT, "func(kc int, a, b, c *float32, ldc int, bias, res *float32, flags int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("tileAVX2 computes one full %dx%d tile of C; see tileFunc.", MR, NR))
	kc := Load(Param("kc"), RAX)
	ap := Load(Param("a"), RSI)
	bp := Load(Param("b"), RDI)

	acc := make([][]VecPhysical, MR)
	for i := range acc {
		acc[i] = make([]VecPhysical, nv)
		for v := range nv {
			acc[i][v] = ymm(i*nv + v)
			VXORPS(acc[i][v], acc[i][v], acc[i][v])
		}
	}
	bv := []VecPhysical{ymm(MR * nv), ymm(MR*nv + 1)}
	bc := []VecPhysical{ymm(MR*nv + 2), ymm(MR*nv + 3)}
	if MR*nv+4 > 16 {
		panic("too many ymm registers")
	}
	step := func(p int) {
		for v := range nv {
			VMOVUPS(Mem{Base: bp, Disp: 4 * (p*NR + v*vec)}, bv[v])
		}
		for i := range MR {
			t := bc[i%len(bc)]
			VBROADCASTSS(Mem{Base: ap, Disp: 4 * (p*MR + i)}, t)
			for v := range nv {
				VFMADD231PS(bv[v], t, acc[i][v])
			}
		}
	}
	kLoops(kc, ap, bp, MR, NR, step, false)

	cp := Load(Param("c"), RDX)
	ldc := Load(Param("ldc"), RCX)
	SHLQ(U8(2), ldc)
	bias := Load(Param("bias"), R8)
	rp := Load(Param("res"), R9)
	flags := Load(Param("flags"), R10)
	zero := bv[0]
	VXORPS(zero, zero, zero)
	for i := range MR {
		onFlag(flags, flagAccum, fmt.Sprintf("avx2_row%d_accum", i), func() {
			for v := range nv {
				VADDPS(Mem{Base: cp, Disp: 32 * v}, acc[i][v], acc[i][v])
			}
		})
		onFlag(flags, flagBias, fmt.Sprintf("avx2_row%d_bias", i), func() {
			t := bc[0]
			VBROADCASTSS(Mem{Base: bias, Disp: 4 * i}, t)
			for v := range nv {
				VADDPS(t, acc[i][v], acc[i][v])
			}
		})
		onFlag(flags, flagRes, fmt.Sprintf("avx2_row%d_res", i), func() {
			for v := range nv {
				VADDPS(Mem{Base: rp, Disp: 32 * v}, acc[i][v], acc[i][v])
			}
		})
		onFlag(flags, flagReLU, fmt.Sprintf("avx2_row%d_relu", i), func() {
			for v := range nv {
				VMAXPS(acc[i][v], zero, acc[i][v])
			}
		})
		for v := range nv {
			VMOVUPS(acc[i][v], Mem{Base: cp, Disp: 32 * v})
		}
		if i < MR-1 {
			ADDQ(ldc, cp)
			ADDQ(ldc, rp)
		}
	}
	VZEROUPPER()
	RET()
}

// copyPanels emits a B-packing helper: for q < panels, copy the NR floats
// src[q*NR:] to dst[q*stride:], with vectors of vbytes (64: zmm, 32: ymm).
func copyPanels(fname string, NR, vbytes int, z bool) {
	TEXT(fname, NOSPLIT, "func(dst, src *float32, panels, stride int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s copies panels rows of %d floats from src (contiguous) to dst (stride floats apart).", fname, NR))
	dst := Load(Param("dst"), RDI)
	src := Load(Param("src"), RSI)
	n := Load(Param("panels"), RCX)
	stride := Load(Param("stride"), RDX)
	SHLQ(U8(2), stride)
	TESTQ(n, n)
	JZ(LabelRef(fname + "_done"))
	Label(fname + "_loop")
	nv := 4 * NR / vbytes
	for v := range nv {
		r := ymm(v)
		if z {
			r = zmm(v)
		}
		VMOVUPS(Mem{Base: src, Disp: v * vbytes}, r)
		VMOVUPS(r, Mem{Base: dst, Disp: v * vbytes})
	}
	ADDQ(U32(4*NR), src)
	ADDQ(stride, dst)
	DECQ(n)
	JNZ(LabelRef(fname + "_loop"))
	Label(fname + "_done")
	VZEROUPPER()
	RET()
}

// gemv emits gemvAVX512: one packed A panel (12 rows, k columns) times a
// vector, out[i] = sum_p a[p*12+i] * x[p] for i < 12, lanes 12-15 of out
// zero. Each step loads a 12-float column of the panel (a masked load,
// which cannot fault past the panel) and multiplies it by x[p] broadcast
// from memory; four accumulators hide the FMA latency. Batch-1 fully
// connected layers are this shape (1000 x 2048 x 1), where a 12x16 tile
// would compute 15 zero columns.
func gemv() {
	TEXT("gemvAVX512", NOSPLIT, "func(k int, a, x, out *float32)")
	Pragma("noescape")
	Doc("gemvAVX512 computes out[i] = sum_p a[p*12+i] * x[p] for i < 12 of one packed A panel (k x 12); out[12:16] = 0.")
	k := Load(Param("k"), RCX)
	ap := Load(Param("a"), RSI)
	xp := Load(Param("x"), RDI)
	mask := GP32()
	MOVL(U32(0xfff), mask)
	KMOVW(mask, K1)
	acc := []VecPhysical{Z0, Z1, Z2, Z3}
	col := []VecPhysical{Z4, Z5, Z6, Z7}
	for _, r := range acc {
		VPXORD(r, r, r)
	}
	n := RBX
	MOVQ(k, n)
	SHRQ(U8(2), n)
	JZ(LabelRef("gemv_tail"))
	Label("gemv_loop4")
	for p := range 4 {
		VMOVUPS_Z(Mem{Base: ap, Disp: 48 * p}, K1, col[p])
		VFMADD231PS_BCST(Mem{Base: xp, Disp: 4 * p}, col[p], acc[p])
	}
	ADDQ(U8(192), ap)
	ADDQ(U8(16), xp)
	DECQ(n)
	JNZ(LabelRef("gemv_loop4"))
	Label("gemv_tail")
	ANDQ(U8(3), k)
	JZ(LabelRef("gemv_end"))
	Label("gemv_loop1")
	VMOVUPS_Z(Mem{Base: ap}, K1, col[0])
	VFMADD231PS_BCST(Mem{Base: xp}, col[0], acc[0])
	ADDQ(U8(48), ap)
	ADDQ(U8(4), xp)
	DECQ(k)
	JNZ(LabelRef("gemv_loop1"))
	Label("gemv_end")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	op := Load(Param("out"), RDX)
	VMOVUPS(acc[0], Mem{Base: op})
	VZEROUPPER()
	RET()
}

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
}

// maxInto emits maxIntoAVX2: dst[i] = max(dst[i], src[i]) for i < n, 32
// floats per iteration, then 8, then one at a time. VMAXPS returns its
// second source, src, when either is NaN.
func maxInto() {
	TEXT("maxIntoAVX2", NOSPLIT, "func(dst, src *float32, n int)")
	Pragma("noescape")
	Doc("maxIntoAVX2 sets dst[i] = max(dst[i], src[i]) for i < n (src when either is NaN).")
	dst := Load(Param("dst"), RDI)
	src := Load(Param("src"), RSI)
	n := Load(Param("n"), RCX)
	Label("max_loop32")
	CMPQ(n, U8(32))
	JL(LabelRef("max_loop8"))
	for v := range 4 {
		VMOVUPS(Mem{Base: dst, Disp: 32 * v}, ymm(v))
		VMAXPS(Mem{Base: src, Disp: 32 * v}, ymm(v), ymm(v))
		VMOVUPS(ymm(v), Mem{Base: dst, Disp: 32 * v})
	}
	ADDQ(U8(128), dst)
	ADDQ(U8(128), src)
	SUBQ(U8(32), n)
	JMP(LabelRef("max_loop32"))
	Label("max_loop8")
	CMPQ(n, U8(8))
	JL(LabelRef("max_loop1"))
	VMOVUPS(Mem{Base: dst}, Y0)
	VMAXPS(Mem{Base: src}, Y0, Y0)
	VMOVUPS(Y0, Mem{Base: dst})
	ADDQ(U8(32), dst)
	ADDQ(U8(32), src)
	SUBQ(U8(8), n)
	JMP(LabelRef("max_loop8"))
	Label("max_loop1")
	TESTQ(n, n)
	JZ(LabelRef("max_done"))
	VMOVSS(Mem{Base: dst}, X0)
	VMAXSS(Mem{Base: src}, X0, X0)
	VMOVSS(X0, Mem{Base: dst})
	ADDQ(U8(4), dst)
	ADDQ(U8(4), src)
	DECQ(n)
	JMP(LabelRef("max_loop1"))
	Label("max_done")
	VZEROUPPER()
	RET()
}

// fmaPeak emits a loop of n iterations of acc independent FMAs on
// registers, no memory operands: the CPU's FMA peak, against which the GEMM
// benchmark reports each kernel's efficiency. acc chains hide the FMA
// latency on every x86 core with two FMA pipes (4-5 cycles x 2).
func fmaPeak(fname string, acc int, z bool) {
	TEXT(fname, NOSPLIT, "func(n int)")
	Pragma("noescape")
	w := "ymm"
	reg := ymm
	if z {
		w, reg = "zmm", zmm
	}
	Doc(fmt.Sprintf("%s runs n iterations of %d independent %s FMAs (the FMA peak).", fname, acc, w))
	n := Load(Param("n"), RCX)
	x, y := reg(acc), reg(acc+1)
	for r := range acc + 2 {
		if z {
			VPXORD(reg(r), reg(r), reg(r))
		} else {
			VXORPS(reg(r), reg(r), reg(r))
		}
	}
	TESTQ(n, n)
	JZ(LabelRef(fname + "_done"))
	Label(fname + "_loop")
	for r := range acc {
		VFMADD231PS(x, y, reg(r))
	}
	DECQ(n)
	JNZ(LabelRef(fname + "_loop"))
	Label(fname + "_done")
	VZEROUPPER()
	RET()
}

// kLoops emits the k loop: unrolled by 4, then one step at a time. With
// prefetchA it also prefetches the A panel 1 KiB ahead, three lines per
// unrolled iteration: A panels come from L3 (the packed weights outgrow L2)
// and are reused for few B micro-panels when n is small; measured +2-14%
// on ResNet-50 shapes.
func kLoops(kc, ap, bp Register, MR, NR int, step func(p int), prefetchA bool) {
	const unroll = 4
	name := fmt.Sprintf("k%dx%d", MR, NR)
	n := RBX
	MOVQ(kc, n)
	SHRQ(U8(2), n)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_loop4")
	for p := range unroll {
		step(p)
		if prefetchA && p < 3 {
			PREFETCHT0(Mem{Base: ap, Disp: 1024 + 64*p})
		}
	}
	ADDQ(U32(4*unroll*MR), ap)
	ADDQ(U32(4*unroll*NR), bp)
	DECQ(n)
	JNZ(LabelRef(name + "_loop4"))
	Label(name + "_tail")
	ANDQ(U8(unroll-1), kc)
	JZ(LabelRef(name + "_end"))
	Label(name + "_loop1")
	step(0)
	ADDQ(U32(4*MR), ap)
	ADDQ(U32(4*NR), bp)
	DECQ(kc)
	JNZ(LabelRef(name + "_loop1"))
	Label(name + "_end")
}

// onFlag emits body guarded by flags&bit != 0.
func onFlag(flags Register, bit int, label string, body func()) {
	TESTQ(U32(bit), flags)
	JZ(LabelRef(label))
	body()
	Label(label)
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
}

func ymm(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}
