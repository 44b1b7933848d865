package main

import (
	"fmt"
	"math"

	"github.com/mlserve/mlserve/_asm/avxutil"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The epilogue's activations over a tile of C (or any rows of floats):
// clamp, sigmoid, SiLU and HardSwish, each as actClampZ/actClampY (AVX-512
// and AVX2) and so on, all with the signature
//
//	func(c *float32, ldc, rows, cols int, lo, hi float32)
//
// (ldc in floats; lo and hi only for the clamp), applied in place to cols
// floats of each row. They match gemm's actGeneric up to the exp
// polynomial's rounding (see internal/gemm/act.go).

// The constants, each replicated in one 64-byte line so that every vector
// width reads it as a memory operand.
var actConsts = []struct {
	name string
	v    float32
}{
	{"one", 1},
	{"ln2hi", 0.693359375},
	{"ln2lo", -2.12194440e-4},
	// e^-x is a normal float32 for x from -88.3 to 87.3, with 2^n for n
	// in [-126, 127]: x is clamped to these, and the reduction runs on x
	// itself (see sigmoidBody).
	{"xlo", -88.3},
	{"xhi", 87.3},
	{"nlog2e", float32(-math.Log2E)},
	// e^r = 1 + r + c2 r^2 + ... + c6 r^6 on |r| <= ln2/2, near-minimax
	// (Chebyshev fit, the coefficients rounded to float32: 2.0e-8 relative
	// before float32's rounding); gemm's exp32 has the same.
	{"c2", expC2},
	{"c4", expC4},
	{"c6", expC6},
	{"nc5", -expC5}, // -c5, -c3 and -1: the odd ones, for p(-r)
	{"nc3", -expC3},
	{"none", -1},
	{"sixth", 1.0 / 6},
	{"half", 0.5},
	{"zero", 0},
}

// The polynomial's coefficients (c0 = c1 = 1).
const (
	expC2 = 0.5
	expC3 = 0.166664153
	expC4 = 0.0416663513
	expC5 = 0.00837512594
	expC6 = 0.00139411085
)

var actTable Mem

func actConst(name string) Mem {
	for i, c := range actConsts {
		if c.name == name {
			return Mem{Base: RAX, Disp: 64 * i}
		}
	}
	panic("no constant " + name)
}

// activations emits the four activations at both widths.
func activations() {
	actTable = GLOBL("actConsts", RODATA|NOPTR)
	for i, c := range actConsts {
		for j := range 16 {
			DATA(64*i+4*j, U32(math.Float32bits(c.v))) // F32 prints 1.0 as $(1), an integer
		}
	}
	for _, z := range []bool{true, false} {
		sfx := "Y"
		if z {
			sfx = "Z"
		}
		actRows("actClamp"+sfx, z, "min(max(x, lo), hi)", clampBody, nil)
		for _, silu := range []bool{false, true} {
			name, what := "actSigmoid", "1/(1+e^-x)"
			if silu {
				name, what = "actSiLU", "x/(1+e^-x)"
			}
			actRows(name+sfx, z, what,
				func(v, lo, hi VecPhysical, z bool) { sigmoidBody(v, 1, z, silu) },
				func(v0, v1 VecPhysical) { sigmoidBody(v0, 1, z, silu); sigmoidBody(v1, 9, z, silu) })
		}
		actRows("actHardSwish"+sfx, z, "x*min(max(x/6+1/2, 0), 1)", func(v, lo, hi VecPhysical, z bool) { hardSwishBody(v, z) }, nil)
		scale("scale"+sfx, z)
	}
	sum64()
}

// sum64 emits sum64AVX512: the float64 sum of n floats (n a multiple of
// 32), each widened with VCVTPS2PD, in four chains of eight lanes.
func sum64() {
	TEXT("sum64AVX512", NOSPLIT, "func(x *float32, n int) float64")
	Pragma("noescape")
	Doc("sum64AVX512 returns the float64 sum of x[:n], n a multiple of 32.")
	xp := Load(Param("x"), RSI)
	n := Load(Param("n"), RCX)
	for v := range 4 {
		VPXORQ(zmm(v), zmm(v), zmm(v))
	}
	TESTQ(n, n)
	JZ(LabelRef("sum64_end"))
	Label("sum64_loop")
	for v := range 4 {
		VCVTPS2PD(Mem{Base: xp, Disp: 32 * v}, zmm(4+v))
		VADDPD(zmm(4+v), zmm(v), zmm(v))
	}
	ADDQ(U8(128), xp)
	SUBQ(U8(32), n)
	JNZ(LabelRef("sum64_loop"))
	Label("sum64_end")
	VADDPD(Z1, Z0, Z0)
	VADDPD(Z3, Z2, Z2)
	VADDPD(Z2, Z0, Z0)
	VEXTRACTF64X4(U8(1), Z0, Y1)
	VADDPD(Y1, Y0, Y0)
	VEXTRACTF128(U8(1), Y0, X1)
	VADDPD(X1, X0, X0)
	VPERMILPD(U8(1), X0, X1)
	VADDSD(X1, X0, X0)
	Store(X0, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// scale emits dst[i] = s * src[i] for i < n: the squeeze-and-excite
// product, one channel's plane times its scalar; four vectors at a time,
// then one, then a masked tail.
func scale(fname string, z bool) {
	TEXT(fname, NOSPLIT, "func(dst, src *float32, n int, s float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets dst[i] = s * src[i] for i < n.", fname))
	vec, reg := 8, ymm
	if z {
		vec, reg = 16, zmm
	}
	dst := Load(Param("dst"), RDI)
	src := Load(Param("src"), RSI)
	n := Load(Param("n"), RCX)
	vs, mask := reg(4), Y5
	Load(Param("s"), X0)
	VBROADCASTSS(X0, vs)
	x := RBX
	XORQ(x, x)
	Label(fname + "_loop4")
	CMPQ(n, U32(4*vec))
	JL(LabelRef(fname + "_loop1"))
	for v := range 4 {
		VMULPS(Mem{Base: src, Index: x, Scale: 4, Disp: 4 * vec * v}, vs, reg(v))
	}
	for v := range 4 {
		VMOVUPS(reg(v), Mem{Base: dst, Index: x, Scale: 4, Disp: 4 * vec * v})
	}
	ADDQ(U32(4*vec), x)
	SUBQ(U32(4*vec), n)
	JMP(LabelRef(fname + "_loop4"))
	Label(fname + "_loop1")
	CMPQ(n, U32(vec))
	JL(LabelRef(fname + "_tail"))
	VMULPS(Mem{Base: src, Index: x, Scale: 4}, vs, reg(0))
	VMOVUPS(reg(0), Mem{Base: dst, Index: x, Scale: 4})
	ADDQ(U32(vec), x)
	SUBQ(U32(vec), n)
	JMP(LabelRef(fname + "_loop1"))
	Label(fname + "_tail")
	TESTQ(n, n)
	JZ(LabelRef(fname + "_done"))
	m, d := Mem{Base: src, Index: x, Scale: 4}, Mem{Base: dst, Index: x, Scale: 4}
	if z {
		avxutil.MaskK(ECX, EAX, K1)
		VMOVUPS_Z(m, K1, Z0)
		VMULPS(vs, Z0, Z0)
		VMOVUPS(Z0, K1, d)
	} else {
		avxutil.MaskY(actMaskName, n, RAX, RDX, mask)
		VMASKMOVPS(m, mask, Y0)
		VMULPS(vs, Y0, Y0)
		VMASKMOVPS(Y0, mask, d)
	}
	Label(fname + "_done")
	VZEROUPPER()
	RET()
}

// The registers of the bodies: the value in v (0), temporaries 1-4, lo and
// hi in 5 and 6, the AVX2 tail mask in 7; a pair's second value in 8, its
// temporaries 9-12.
func clampBody(v, lo, hi VecPhysical, z bool) { clamp(v, lo, hi) }

// clamp sets v = min(max(v, lo), hi), NaN staying NaN: MAXPS and MINPS
// return their second source, v, when either is NaN.
func clamp(v, lo, hi VecPhysical) {
	VMAXPS(v, lo, v)
	VMINPS(v, hi, v)
}

// loadClamp broadcasts the lo and hi arguments into registers if flags
// has flagClamp (the micro-kernels' epilogue).
func loadClamp(flags Register, fname string, lo, hi VecPhysical) {
	onFlag(flags, flagClamp, fname+"_clampargs", func() {
		for _, p := range []struct {
			name string
			r    VecPhysical
		}{{"lo", lo}, {"hi", hi}} {
			b, err := Param(p.name).Resolve()
			if err != nil {
				panic(err)
			}
			VBROADCASTSS(b.Addr, p.r)
		}
	})
}

// sigmoidBody computes e = e^-x as 2^n * p(r) with -x = n ln2 + r, |r| <=
// ln2/2, then 1/(1+e) or, for SiLU, x/(1+e). AVX-512 scales by 2^n with
// VSCALEFPS, AVX2 builds 2^n's bits (n in [-126, 127] after the clamp, so
// both are exact and equal). The reduction runs on x, not -x: n =
// round(x * -log2e), r' = x + n ln2 = -r, and p(r) = p(-r') with the odd
// coefficients negated; negation being exact and rounding symmetric, that
// is bit for bit exp32(-x), one VSUBPS (and its zero) fewer. NaN clamps as
// in exp32(-x) (to x = 87.3: MINPS, then MAXPS, return the constant).
func sigmoidBody(v VecPhysical, tmp int, z, silu bool) {
	reg := ymm
	if z {
		reg = zmm
	}
	t, n, p, ni := reg(tmp), reg(tmp+1), reg(tmp+2), reg(tmp+3)
	VMINPS(actConst("xhi"), v, t) // t = x, clamped
	VMAXPS(actConst("xlo"), t, t)
	VMULPS(actConst("nlog2e"), t, n)
	if z {
		VRNDSCALEPS(U8(0), n, n)
	} else {
		VROUNDPS(U8(0), n, n)
	}
	VFMADD231PS(actConst("ln2hi"), n, t) // t = -r
	VFMADD231PS(actConst("ln2lo"), n, t)
	VMOVUPS(actConst("c6"), p)
	for _, c := range []string{"nc5", "c4", "nc3", "c2", "none", "one"} {
		VFMADD213PS(actConst(c), t, p) // p = p*(-r) + c, the odd ones negated
	}
	if z {
		// p * 2^n in one instruction (n is integral and in range).
		VSCALEFPS(n, p, p)
	} else {
		VCVTPS2DQ(n, ni)
		VPSLLD(U8(23), ni, ni)
		VPADDD(actConst("one"), ni, ni) // + 127<<23 (the bits of 1.0): 2^n
		VMULPS(ni, p, p)
	}
	VADDPS(actConst("one"), p, p) // 1 + e^-x
	if silu {
		VDIVPS(p, v, v)
		return
	}
	VMOVUPS(actConst("one"), t)
	VDIVPS(p, t, v)
}

func hardSwishBody(v VecPhysical, z bool) {
	t := Y1
	if z {
		t = Z1
	}
	VMULPS(actConst("sixth"), v, t)
	VADDPS(actConst("half"), t, t)
	VMAXPS(actConst("zero"), t, t)
	VMINPS(actConst("one"), t, t)
	VMULPS(t, v, v)
}

// actRows emits fname, body applied to every float of rows x cols at c
// (ldc floats apart), one vector at a time and a masked tail per row; with
// pair, two vectors at a time first (two independent chains for the long
// exp-and-divide bodies).
func actRows(fname string, z bool, what string, body func(v, lo, hi VecPhysical, z bool), pair func(v0, v1 VecPhysical)) {
	TEXT(fname, NOSPLIT, "func(c *float32, ldc, rows, cols int, lo, hi float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets each of cols floats of rows rows at c, ldc apart, to %s.", fname, what))
	vec, reg := 8, ymm
	if z {
		vec, reg = 16, zmm
	}
	cp := Load(Param("c"), RDI)
	ldc := Load(Param("ldc"), RSI)
	rows := Load(Param("rows"), RDX)
	cols := Load(Param("cols"), R8)
	v, vlo, vhi, mask := reg(0), reg(5), reg(6), reg(7)
	Load(Param("lo"), X0)
	VBROADCASTSS(X0, vlo)
	Load(Param("hi"), X0)
	VBROADCASTSS(X0, vhi)
	LEAQ(actTable, RAX)
	x, rem := RBX, RCX
	TESTQ(rows, rows)
	JZ(LabelRef(fname + "_done"))
	Label(fname + "_row")
	XORQ(x, x)
	MOVQ(cols, rem)
	if pair != nil {
		Label(fname + "_pair")
		CMPQ(rem, U32(2*vec))
		JL(LabelRef(fname + "_vec"))
		m0 := Mem{Base: cp, Index: x, Scale: 4}
		m1 := Mem{Base: cp, Index: x, Scale: 4, Disp: 4 * vec}
		VMOVUPS(m0, v)
		VMOVUPS(m1, reg(8))
		pair(v, reg(8))
		VMOVUPS(v, m0)
		VMOVUPS(reg(8), m1)
		ADDQ(U32(2*vec), x)
		SUBQ(U32(2*vec), rem)
		JMP(LabelRef(fname + "_pair"))
	}
	Label(fname + "_vec")
	CMPQ(rem, U32(vec))
	JL(LabelRef(fname + "_tail"))
	m := Mem{Base: cp, Index: x, Scale: 4}
	VMOVUPS(m, v)
	body(v, vlo, vhi, z)
	VMOVUPS(v, m)
	ADDQ(U32(vec), x)
	SUBQ(U32(vec), rem)
	JMP(LabelRef(fname + "_vec"))
	Label(fname + "_tail")
	TESTQ(rem, rem)
	JZ(LabelRef(fname + "_next"))
	if z {
		avxutil.MaskK(ECX, R9L, K1)
		VMOVUPS_Z(m, K1, v)
		body(v, vlo, vhi, z)
		VMOVUPS(v, K1, m)
	} else {
		avxutil.MaskY(actMaskName, rem, R9, R10, mask)
		VMASKMOVPS(m, mask, v)
		body(v, vlo, vhi, z)
		VMASKMOVPS(v, mask, m)
	}
	Label(fname + "_next")
	LEAQ(Mem{Base: cp, Index: ldc, Scale: 4}, cp)
	DECQ(rows)
	JNZ(LabelRef(fname + "_row"))
	Label(fname + "_done")
	VZEROUPPER()
	RET()
}

// actMaskName is the activations' tail-mask table (avxutil).
const actMaskName = "actTailMask"
