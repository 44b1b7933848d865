package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

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

// gemv emits fname: one packed A panel (MR rows, k columns) times a
// vector, out[i] = sum_p a[p*MR+i] * x[p] for i < MR, lanes MR-15 of out
// zero. Each step loads an MR-float column of the panel (a masked load,
// which cannot fault past the panel) and multiplies it by x[p] broadcast
// from memory; four accumulators hide the FMA latency. Batch-1 fully
// connected layers are this shape (1000 x 2048 x 1), where a 12x16 tile
// would compute 15 zero columns.
func gemv(fname string, MR int) {
	TEXT(fname, NOSPLIT, "func(k int, a, x, out *float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes out[i] = sum_p a[p*%d+i] * x[p] for i < %d of one packed A panel (k x %d); out[%d:16] = 0.", fname, MR, MR, MR, MR))
	k := Load(Param("k"), RCX)
	ap := Load(Param("a"), RSI)
	xp := Load(Param("x"), RDI)
	mask := GP32()
	MOVL(U32(1<<MR-1), mask)
	KMOVW(mask, K1)
	acc := []VecPhysical{Z0, Z1, Z2, Z3}
	col := []VecPhysical{Z4, Z5, Z6, Z7}
	for _, r := range acc {
		VPXORD(r, r, r)
	}
	n := RBX
	MOVQ(k, n)
	SHRQ(U8(2), n)
	JZ(LabelRef(fname + "_tail"))
	Label(fname + "_loop4")
	for p := range 4 {
		VMOVUPS_Z(Mem{Base: ap, Disp: 4 * MR * p}, K1, col[p])
		VFMADD231PS_BCST(Mem{Base: xp, Disp: 4 * p}, col[p], acc[p])
	}
	ADDQ(U32(16*MR), ap)
	ADDQ(U8(16), xp)
	DECQ(n)
	JNZ(LabelRef(fname + "_loop4"))
	Label(fname + "_tail")
	ANDQ(U8(3), k)
	JZ(LabelRef(fname + "_end"))
	Label(fname + "_loop1")
	VMOVUPS_Z(Mem{Base: ap}, K1, col[0])
	VFMADD231PS_BCST(Mem{Base: xp}, col[0], acc[0])
	ADDQ(U32(4*MR), ap)
	ADDQ(U8(4), xp)
	DECQ(k)
	JNZ(LabelRef(fname + "_loop1"))
	Label(fname + "_end")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	op := Load(Param("out"), RDX)
	VMOVUPS(acc[0], Mem{Base: op})
	VZEROUPPER()
	RET()
}

// gemvY emits fname: gemv for an 8-row panel in ymm registers, one
// 8-float column and one broadcast of x a step, eight accumulators. Zen 4
// runs a zmm instruction as two 256-bit halves, so gemv's masked 8-lane
// zmm FMAs cost what full ones do: this runs EfficientNet-B0's excite
// (1152 x 48) and the classifiers 1.4-1.6x faster in cache. A 16-lane form
// (two columns a zmm vector, x permuted to its halves) was as fast in
// cache but 5-20% slower with the weights streaming from memory, where
// these 32-byte loads are as fast as gemv's (BENCHMARKS.md, issue 16,
// session 5).
func gemvY(fname string) {
	TEXT(fname, NOSPLIT, "func(k int, a, x, out *float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes out[i] = sum_p a[p*8+i] * x[p] for i < 8 of one packed A panel (k x 8); out[8:16] = 0.", fname))
	k := Load(Param("k"), RCX)
	ap := Load(Param("a"), RSI)
	xp := Load(Param("x"), RDI)
	var acc, xs []VecPhysical
	for i := range 8 {
		acc = append(acc, ymm(i))
		xs = append(xs, ymm(8+i))
	}
	for _, r := range acc {
		VXORPS(r, r, r)
	}
	n := RBX
	MOVQ(k, n)
	SHRQ(U8(3), n)
	JZ(LabelRef(fname + "_tail"))
	Label(fname + "_loop8")
	for p := range 8 {
		VBROADCASTSS(Mem{Base: xp, Disp: 4 * p}, xs[p])
		VFMADD231PS(Mem{Base: ap, Disp: 32 * p}, xs[p], acc[p])
	}
	ADDQ(U32(256), ap)
	ADDQ(U8(32), xp)
	DECQ(n)
	JNZ(LabelRef(fname + "_loop8"))
	Label(fname + "_tail")
	ANDQ(U8(7), k)
	JZ(LabelRef(fname + "_end"))
	Label(fname + "_loop1")
	VBROADCASTSS(Mem{Base: xp}, xs[0])
	VFMADD231PS(Mem{Base: ap}, xs[0], acc[0])
	ADDQ(U8(32), ap)
	ADDQ(U8(4), xp)
	DECQ(k)
	JNZ(LabelRef(fname + "_loop1"))
	Label(fname + "_end")
	for s := 4; s >= 1; s /= 2 {
		for i := range s {
			VADDPS(acc[i+s], acc[i], acc[i])
		}
	}
	op := Load(Param("out"), RDX)
	VMOVUPS(acc[0], Mem{Base: op})
	VXORPS(acc[1], acc[1], acc[1])
	VMOVUPS(acc[1], Mem{Base: op, Disp: 32})
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

// copyRows emits copyRowsAVX512: rows rows of nv*16 floats plus a masked
// tail (mask: the tail's lanes), src rows srcStride floats apart, dst rows
// dstStride apart. Masked lanes are neither read nor written.
func copyRows() {
	TEXT("copyRowsAVX512", NOSPLIT, "func(dst, src *float32, rows, nv int, mask uint16, dstStride, srcStride int)")
	Pragma("noescape")
	Doc("copyRowsAVX512 copies rows rows of nv*16 floats and a masked tail from src (rows srcStride floats apart) to dst (dstStride apart).")
	dst := Load(Param("dst"), RDI)
	src := Load(Param("src"), RSI)
	rows := Load(Param("rows"), RCX)
	nv := Load(Param("nv"), RDX)
	Load(Param("mask"), R10)
	KMOVW(R10L, K1)
	ds := Load(Param("dstStride"), R8)
	SHLQ(U8(2), ds)
	ss := Load(Param("srcStride"), R9)
	SHLQ(U8(2), ss)
	TESTQ(rows, rows)
	JZ(LabelRef("copyrows_done"))
	Label("copyrows_row")
	MOVQ(src, R11)
	MOVQ(dst, R12)
	MOVQ(nv, R13)
	TESTQ(R13, R13)
	JZ(LabelRef("copyrows_tail"))
	Label("copyrows_vec")
	VMOVUPS(Mem{Base: R11}, Z0)
	VMOVUPS(Z0, Mem{Base: R12})
	ADDQ(U8(64), R11)
	ADDQ(U8(64), R12)
	DECQ(R13)
	JNZ(LabelRef("copyrows_vec"))
	Label("copyrows_tail")
	VMOVUPS_Z(Mem{Base: R11}, K1, Z0)
	VMOVUPS(Z0, K1, Mem{Base: R12})
	ADDQ(ss, src)
	ADDQ(ds, dst)
	DECQ(rows)
	JNZ(LabelRef("copyrows_row"))
	Label("copyrows_done")
	VZEROUPPER()
	RET()
}

// prefetchA emits prefetchKiB: PREFETCHT0 of the 16 cache lines from p on,
// the start of the next A panel a tile will read.
func prefetchA() {
	TEXT("prefetchKiB", NOSPLIT, "func(p *float32)")
	Pragma("noescape")
	Doc("prefetchKiB prefetches the KiB at p into L1 (16 lines).")
	p := Load(Param("p"), RAX)
	for l := range 16 {
		PREFETCHT0(Mem{Base: p, Disp: 64 * l})
	}
	RET()
}

// copyRowsEvens emits copyRowsEvensAVX512: for each of rows rows, dst[c]
// = src[2c], 16 at a time from two vectors of src with one two-table
// permute, full times, then a tail: the lanes m1 and m2 of the row's next
// two vectors of src read (masked lanes are not), the lanes ms of dst
// written; src rows srcStride floats apart, dst rows dstStride. The
// engine's stride-2 im2col and subsample gather with it.
func copyRowsEvens() {
	idx := GLOBL("evensIndex", RODATA|NOPTR)
	for i := range 16 {
		DATA(4*i, U32(2*i))
	}
	TEXT("copyRowsEvensAVX512", NOSPLIT, "func(dst, src *float32, rows, full int, m1, m2, ms uint16, dstStride, srcStride int)")
	Pragma("noescape")
	Doc("copyRowsEvensAVX512 sets dst[r*dstStride+c] = src[r*srcStride+2c] for r < rows, c < 16*full, then for the lanes ms of the next 16 from the lanes m1, m2 of the next 32 of src (see the generator).")
	dst := Load(Param("dst"), RDI)
	src := Load(Param("src"), RSI)
	rows := Load(Param("rows"), RCX)
	full := Load(Param("full"), RDX)
	for _, m := range []struct {
		name string
		k    Register
	}{{"m1", K1}, {"m2", K2}, {"ms", K3}} {
		Load(Param(m.name), RAX)
		KMOVW(EAX, m.k)
	}
	ds := Load(Param("dstStride"), R8)
	SHLQ(U8(2), ds)
	ss := Load(Param("srcStride"), R9)
	SHLQ(U8(2), ss)
	VMOVUPS(idx, Z2)
	TESTQ(rows, rows)
	JZ(LabelRef("evens_done"))
	Label("evens_row")
	MOVQ(src, R10)
	MOVQ(dst, R11)
	MOVQ(full, R12)
	TESTQ(R12, R12)
	JZ(LabelRef("evens_tail"))
	Label("evens_vec")
	VMOVUPS(Mem{Base: R10}, Z0)
	VPERMT2PS(Mem{Base: R10, Disp: 64}, Z2, Z0)
	VMOVUPS(Z0, Mem{Base: R11})
	ADDQ(U32(128), R10)
	ADDQ(U32(64), R11)
	DECQ(R12)
	JNZ(LabelRef("evens_vec"))
	Label("evens_tail")
	VMOVUPS_Z(Mem{Base: R10}, K1, Z0)
	VMOVUPS_Z(Mem{Base: R10, Disp: 64}, K2, Z1)
	VPERMT2PS(Z1, Z2, Z0)
	VMOVUPS(Z0, K3, Mem{Base: R11})
	ADDQ(ss, src)
	ADDQ(ds, dst)
	DECQ(rows)
	JNZ(LabelRef("evens_row"))
	Label("evens_done")
	VZEROUPPER()
	RET()
}
