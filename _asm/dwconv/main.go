// Command dwconv generates internal/dwconv's amd64 kernels with avo:
//
//	go run ./dwconv -out ../internal/dwconv/dwconv_amd64.s -stubs ../internal/dwconv/kernels_amd64.go -pkg dwconv
//
// (internal/dwconv's go:generate directive runs exactly this.)
//
// The row kernels compute oh output rows of ow pixels of a depthwise (or
// grouped) convolution from a zero-padded copy of the input: every output
// pixel x of a row is clamp(bias + sum_t w[t] * src[base + offs[t] + x]),
// so padding never branches and any kernel size, stride (the copy splits
// strided columns into phases) or group width is just a list of taps.
// The accumulators stay in registers across the taps, four vectors of
// pixels at a time, then one, then a masked tail.
package main

import (
	"fmt"

	"github.com/mlserve/mlserve/_asm/avxutil"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("!purego")
	rows("rowsAVX512", true)
	rows("rowsAVX2", false)
	for _, ks := range [][2]int{{3, 1}, {3, 2}, {5, 1}, {5, 2}} {
		rowsKxK(fmt.Sprintf("rows%dx%dS%dAVX512", ks[0], ks[0], ks[1]), true, false, ks[0], ks[1])
		rowsKxK(fmt.Sprintf("rows%dx%dS%dAVX512Y", ks[0], ks[0], ks[1]), true, true, ks[0], ks[1])
	}
	rowsKxK("rows3x3S1AVX2", false, false, 3, 1)
	rowsKxK("rows3x3S2AVX2", false, false, 3, 2)
	padCopy("padCopyAVX512", true, false)
	padCopy("padCopyAVX512Y", true, true)
	padCopy("padCopyAVX2", false, false)
	deinterleave512()
	deinterleave256()
	padSplit2512()
	Generate()
}

// rows emits the row kernel for zmm (16 floats) or ymm (8 floats)
// vectors. offs holds byte offsets; step is the byte distance between the
// bases of consecutive output rows in src. src must be readable one vector
// past every tap's last pixel (the caller's slack): the tail loads whole
// vectors and masks only the store.
func rows(fname string, z bool) {
	TEXT(fname, NOSPLIT, "func(dst, src *float32, offs *int, w *float32, taps, ow, oh, step int, bias, lo, hi float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes oh rows of ow pixels: dst[y*ow+x] = min(max(bias + sum_t w[t]*src[(y*step+offs[t])/4+x], lo), hi).", fname))
	vec, reg := 8, ymm
	if z {
		vec, reg = 16, zmm
	}
	dst := Load(Param("dst"), RDI)
	src := Load(Param("src"), RSI)
	offs := Load(Param("offs"), R8)
	wp := Load(Param("w"), R9)
	taps := Load(Param("taps"), R10)
	ow := Load(Param("ow"), R11)
	oh := Load(Param("oh"), R12)
	step := Load(Param("step"), R13)
	vb, vlo, vhi, wv := reg(12), reg(13), reg(14), reg(15)
	broadcastParam("bias", vb)
	broadcastParam("lo", vlo)
	broadcastParam("hi", vhi)
	var mask VecPhysical // ymm: the tail's store mask
	if !z {
		mask = Y11
	}
	x, rem, ptr, t, op, wq := RBX, RCX, RAX, RDX, R14, R15
	TESTQ(oh, oh)
	JZ(LabelRef(fname + "_done"))
	TESTQ(ow, ow)
	JZ(LabelRef(fname + "_done"))

	// block emits nv vectors of accumulators at byte offset x of the row.
	block := func(label string, nv int, tail bool) {
		acc := make([]VecPhysical, nv)
		for v := range acc {
			acc[v] = reg(v)
			VMOVAPS(vb, acc[v])
		}
		MOVQ(offs, op)
		MOVQ(wp, wq)
		MOVQ(taps, t)
		Label(label + "_tap")
		MOVQ(Mem{Base: op}, ptr)
		ADDQ(src, ptr)
		VBROADCASTSS(Mem{Base: wq}, wv)
		for v := range acc {
			VFMADD231PS(Mem{Base: ptr, Index: x, Scale: 1, Disp: 4 * vec * v}, wv, acc[v])
		}
		ADDQ(U8(8), op)
		ADDQ(U8(4), wq)
		DECQ(t)
		JNZ(LabelRef(label + "_tap"))
		for v := range acc {
			VMAXPS(vlo, acc[v], acc[v])
			VMINPS(vhi, acc[v], acc[v])
			m := Mem{Base: dst, Index: x, Scale: 1, Disp: 4 * vec * v}
			switch {
			case !tail:
				VMOVUPS(acc[v], m)
			case z:
				VMOVUPS(acc[v], K1, m)
			default:
				VMASKMOVPS(acc[v], mask, m)
			}
		}
	}

	Label(fname + "_row")
	XORQ(x, x)
	MOVQ(ow, rem)
	Label(fname + "_loop4")
	CMPQ(rem, U32(4*vec))
	JL(LabelRef(fname + "_loop1"))
	block(fname+"_b4", 4, false)
	ADDQ(U32(16*vec), x)
	SUBQ(U32(4*vec), rem)
	JMP(LabelRef(fname + "_loop4"))
	Label(fname + "_loop1")
	CMPQ(rem, U32(vec))
	JL(LabelRef(fname + "_tail"))
	block(fname+"_b1", 1, false)
	ADDQ(U32(4*vec), x)
	SUBQ(U32(vec), rem)
	JMP(LabelRef(fname + "_loop1"))
	Label(fname + "_tail")
	TESTQ(rem, rem)
	JZ(LabelRef(fname + "_next"))
	if z {
		avxutil.MaskK(ECX, EAX, K1)
	} else {
		avxutil.MaskY(maskName, rem, t, ptr, mask)
	}
	block(fname+"_bt", 1, true)
	Label(fname + "_next")
	ADDQ(step, src)
	LEAQ(Mem{Base: dst, Index: ow, Scale: 4}, dst)
	DECQ(oh)
	JNZ(LabelRef(fname + "_row"))
	Label(fname + "_done")
	VZEROUPPER()
	RET()
}

// padCopy emits a copy of rows rows of w floats from src to dst, each
// with its own row pitch: the input planes into the padded buffer, in one
// call per plane, whole vectors and a masked tail per row.
//
// With narrow (AVX-512 only), ymm vectors with K-masked tails: rows of at
// most 8 floats (7x7 planes) in one half-width operation each.
func padCopy(fname string, z, narrow bool) {
	TEXT(fname, NOSPLIT, "func(dst, src *float32, rows, w, dpitch, spitch int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s copies rows rows of w floats from src, spitch floats apart, to dst, dpitch floats apart.", fname))
	vec, reg := 8, ymm
	if z && !narrow {
		vec, reg = 16, zmm
	}
	dst := Load(Param("dst"), RDI)
	src := Load(Param("src"), RSI)
	rows := Load(Param("rows"), RDX)
	w := Load(Param("w"), R8)
	pitch := Load(Param("dpitch"), R9)
	spitch := Load(Param("spitch"), R11)
	x, rem, mask := RBX, RCX, Y15
	TESTQ(rows, rows)
	JZ(LabelRef(fname + "_done"))
	TESTQ(w, w)
	JZ(LabelRef(fname + "_done"))
	// The tail mask is the same for every row: w mod vec floats.
	MOVQ(w, rem)
	ANDQ(U32(vec-1), rem)
	if z {
		avxutil.MaskK(ECX, EAX, K1)
	} else {
		avxutil.MaskY(maskName, rem, RAX, R10, mask)
	}
	Label(fname + "_row")
	XORQ(x, x)
	MOVQ(w, rem)
	Label(fname + "_loop")
	CMPQ(rem, U32(vec))
	JL(LabelRef(fname + "_tail"))
	VMOVUPS(Mem{Base: src, Index: x, Scale: 4}, reg(0))
	VMOVUPS(reg(0), Mem{Base: dst, Index: x, Scale: 4})
	ADDQ(U32(vec), x)
	SUBQ(U32(vec), rem)
	JMP(LabelRef(fname + "_loop"))
	Label(fname + "_tail")
	TESTQ(rem, rem)
	JZ(LabelRef(fname + "_next"))
	if z {
		VMOVUPS_Z(Mem{Base: src, Index: x, Scale: 4}, K1, reg(0))
		VMOVUPS(reg(0), K1, Mem{Base: dst, Index: x, Scale: 4})
	} else {
		VMASKMOVPS(Mem{Base: src, Index: x, Scale: 4}, mask, Y0)
		VMASKMOVPS(Y0, mask, Mem{Base: dst, Index: x, Scale: 4})
	}
	Label(fname + "_next")
	LEAQ(Mem{Base: src, Index: spitch, Scale: 4}, src)
	LEAQ(Mem{Base: dst, Index: pitch, Scale: 4}, dst)
	DECQ(rows)
	JNZ(LabelRef(fname + "_row"))
	Label(fname + "_done")
	VZEROUPPER()
	RET()
}

// broadcastParam loads the float32 parameter name into every lane of r,
// through X0.
func broadcastParam(name string, r VecPhysical) {
	Load(Param(name), X0)
	VBROADCASTSS(X0, r)
}

// maskName is the tail-mask table of the generated file (avxutil).
const maskName = "dwTailMask"

// evenOdd is deinterleaveAVX512's two VPERMI2PS index vectors: the even
// floats of two zmm registers, then the odd ones.
var evenOdd Mem

// splitEvenOdd sets Z2 to the even floats of Z0:Z1 and Z3 to the odd ones,
// with evenOdd's indices in Z4 and Z5.
func splitEvenOdd() {
	VMOVAPS(Z4, Z2)
	VPERMI2PS(Z1, Z0, Z2)
	VMOVAPS(Z5, Z3)
	VPERMI2PS(Z1, Z0, Z3)
}

// deinterleave512 emits deinterleaveAVX512: even[j] = src[2j] and odd[j] =
// src[2j+1] for j < 16*blocks, two VPERMI2PS per 32 source floats.
func deinterleave512() {
	TEXT("deinterleaveAVX512", NOSPLIT, "func(even, odd, src *float32, blocks int)")
	Pragma("noescape")
	Doc("deinterleaveAVX512 sets even[j], odd[j] = src[2j], src[2j+1] for j < 16*blocks.")
	ev := Load(Param("even"), RDI)
	od := Load(Param("odd"), RDX)
	src := Load(Param("src"), RSI)
	n := Load(Param("blocks"), RCX)
	evenOdd = GLOBL("dwEvenOdd", RODATA|NOPTR)
	for i := range 32 {
		DATA(4*i, U32(uint32(2*(i%16)+i/16)))
	}
	ptr := RAX
	LEAQ(evenOdd, ptr)
	VMOVDQU32(Mem{Base: ptr}, Z4)
	VMOVDQU32(Mem{Base: ptr, Disp: 64}, Z5)
	TESTQ(n, n)
	JZ(LabelRef("deint512_done"))
	Label("deint512_loop")
	VMOVUPS(Mem{Base: src}, Z0)
	VMOVUPS(Mem{Base: src, Disp: 64}, Z1)
	splitEvenOdd()
	VMOVUPS(Z2, Mem{Base: ev})
	VMOVUPS(Z3, Mem{Base: od})
	ADDQ(U8(128), src)
	ADDQ(U8(64), ev)
	ADDQ(U8(64), od)
	DECQ(n)
	JNZ(LabelRef("deint512_loop"))
	Label("deint512_done")
	VZEROUPPER()
	RET()
}

// deinterleave256 emits deinterleaveAVX2, the same for j < 8*blocks:
// VSHUFPS picks the even (odd) floats of each 128-bit lane pair and VPERMPD
// puts the lanes in order.
func deinterleave256() {
	TEXT("deinterleaveAVX2", NOSPLIT, "func(even, odd, src *float32, blocks int)")
	Pragma("noescape")
	Doc("deinterleaveAVX2 sets even[j], odd[j] = src[2j], src[2j+1] for j < 8*blocks.")
	ev := Load(Param("even"), RDI)
	od := Load(Param("odd"), RDX)
	src := Load(Param("src"), RSI)
	n := Load(Param("blocks"), RCX)
	TESTQ(n, n)
	JZ(LabelRef("deint256_done"))
	Label("deint256_loop")
	VMOVUPS(Mem{Base: src}, Y0)
	VMOVUPS(Mem{Base: src, Disp: 32}, Y1)
	VSHUFPS(U8(0x88), Y1, Y0, Y2)
	VSHUFPS(U8(0xdd), Y1, Y0, Y3)
	VPERMPD(U8(0xd8), Y2, Y2)
	VPERMPD(U8(0xd8), Y3, Y3)
	VMOVUPS(Y2, Mem{Base: ev})
	VMOVUPS(Y3, Mem{Base: od})
	ADDQ(U8(64), src)
	ADDQ(U8(32), ev)
	ADDQ(U8(32), od)
	DECQ(n)
	JNZ(LabelRef("deint256_loop"))
	Label("deint256_done")
	VZEROUPPER()
	RET()
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
}

func ymm(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15,
		Y16, Y17, Y18, Y19, Y20, Y21, Y22, Y23, Y24, Y25, Y26, Y27, Y28, Y29, Y30, Y31}[i] // 16 on: EVEX (AVX-512)
}

// padSplit2512 emits padSplit2AVX512, a stride-2 plane's padding copy and
// column split in one pass: each of rows rows of w input floats (spitch
// floats apart) goes straight to its two phase rows (dpitch floats apart),
// the even floats to ev, the odd ones to od, without writing the padded
// plane first. Two VPERMI2PS per 32 floats, as deinterleaveAVX512, and one
// masked block per row for the last w mod 32 floats (ceil of half of them
// to ev, floor to od).
func padSplit2512() {
	TEXT("padSplit2AVX512", NOSPLIT, "func(ev, od, src *float32, rows, w, dpitch, spitch int)")
	Pragma("noescape")
	Doc("padSplit2AVX512 sets ev[r*dpitch+j], od[r*dpitch+j] = src[r*spitch+2j], src[r*spitch+2j+1] for r < rows and 2j (2j+1) < w.")
	ev := Load(Param("ev"), RDI)
	od := Load(Param("od"), RDX)
	src := Load(Param("src"), RSI)
	rows := Load(Param("rows"), R8)
	w := Load(Param("w"), R9)
	dpitch := Load(Param("dpitch"), R10)
	spitch := Load(Param("spitch"), R11)
	ptr, x, y, rem := RAX, RBX, R12, RCX
	LEAQ(evenOdd, ptr) // the permutations of deinterleaveAVX512
	VMOVDQU32(Mem{Base: ptr}, Z4)
	VMOVDQU32(Mem{Base: ptr, Disp: 64}, Z5)
	TESTQ(rows, rows)
	JZ(LabelRef("psplit_done"))
	TESTQ(w, w)
	JZ(LabelRef("psplit_done"))
	// The tail masks, the same for every row: of t = w mod 32 floats, the
	// loads of min(t, 16) and max(t-16, 0), the stores of ceil(t/2) to ev
	// and floor(t/2) to od.
	MOVQ(w, rem)
	ANDQ(U8(31), rem)
	MOVL(ECX, R13L)
	CMPL(R13L, U8(16))
	JLE(LabelRef("psplit_lo"))
	MOVL(U32(16), R13L)
	Label("psplit_lo")
	avxutil.MaskK(R13L, EAX, K1)
	MOVL(ECX, R13L)
	SUBL(U8(16), R13L)
	JGE(LabelRef("psplit_hi"))
	XORL(R13L, R13L)
	Label("psplit_hi")
	avxutil.MaskK(R13L, EAX, K2)
	MOVL(ECX, R13L)
	INCL(R13L)
	SHRL(U8(1), R13L)
	avxutil.MaskK(R13L, EAX, K3)
	MOVL(ECX, R13L)
	SHRL(U8(1), R13L)
	avxutil.MaskK(R13L, EAX, K4)
	SHLQ(U8(2), dpitch)
	SHLQ(U8(2), spitch)
	Label("psplit_row")
	XORQ(x, x) // source bytes
	XORQ(y, y) // phase-row bytes
	MOVQ(w, rem)
	Label("psplit_loop")
	CMPQ(rem, U8(32))
	JL(LabelRef("psplit_tail"))
	VMOVUPS(Mem{Base: src, Index: x, Scale: 1}, Z0)
	VMOVUPS(Mem{Base: src, Index: x, Scale: 1, Disp: 64}, Z1)
	splitEvenOdd()
	VMOVUPS(Z2, Mem{Base: ev, Index: y, Scale: 1})
	VMOVUPS(Z3, Mem{Base: od, Index: y, Scale: 1})
	ADDQ(U32(128), x)
	ADDQ(U8(64), y)
	SUBQ(U8(32), rem)
	JMP(LabelRef("psplit_loop"))
	Label("psplit_tail")
	TESTQ(rem, rem)
	JZ(LabelRef("psplit_next"))
	VMOVUPS_Z(Mem{Base: src, Index: x, Scale: 1}, K1, Z0)
	VMOVUPS_Z(Mem{Base: src, Index: x, Scale: 1, Disp: 64}, K2, Z1)
	splitEvenOdd()
	VMOVUPS(Z2, K3, Mem{Base: ev, Index: y, Scale: 1})
	VMOVUPS(Z3, K4, Mem{Base: od, Index: y, Scale: 1})
	Label("psplit_next")
	ADDQ(spitch, src)
	ADDQ(dpitch, ev)
	ADDQ(dpitch, od)
	DECQ(rows)
	JNZ(LabelRef("psplit_row"))
	Label("psplit_done")
	VZEROUPPER()
	RET()
}
