package main

import (
	"fmt"

	"github.com/mlserve/mlserve/_asm/avxutil"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// rowsKxK emits the row kernel for k x k taps of one channel at stride s
// (1 or 2), with the k*k weights in registers for the whole call and every
// tap a memory operand: row ky of the taps starts at r[ky] = src +
// ky*geo[0] bytes, and tap kx of pixel x is at r[ky] + 4*x + 4*kx (s = 1)
// or + 4*(kx/2), plus geo[1] (the odd-column phase) for odd kx (s = 2):
// per vector of pixels it is k*k FMAs and nothing else. A row's last
// pixels, fewer than four vectors, are one block of one to four vectors
// with the last one's store masked.
//
// With narrow (AVX-512 only), the vectors are ymm registers of 8 floats,
// EVEX-encoded (the weights in Y7-Y31 and K-masked stores, as the zmm
// kernel): a row of at most 8 pixels (7x7 planes) then costs half the
// loads and FMAs of a zmm row on CPUs that split zmm operations in two.
func rowsKxK(fname string, z, narrow bool, k, s int) {
	TEXT(fname, NOSPLIT, "func(dst, src *float32, geo *[2]int, w *float32, ow, oh, step int, bias, lo, hi float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is the row kernel for %dx%d taps at stride %d: geo holds the bytes between tap rows, then to the odd-column phase.", fname, k, k, s))
	g := &kxk{fname: fname, z: z, k: k, s: s, vec: 8, reg: ymm}
	if z && !narrow {
		g.vec, g.reg = 16, zmm
	}
	g.dst = Load(Param("dst"), RDI)
	src := Load(Param("src"), RAX)
	geo := Load(Param("geo"), RDX)
	wp := Load(Param("w"), RCX)
	ow := Load(Param("ow"), R13)
	oh := Load(Param("oh"), R12)
	step := Load(Param("step"), R14)
	g.r = []Register{RSI, R8, R9, R10, R15}[:k]
	for ky, rk := range g.r {
		if ky == 0 {
			MOVQ(src, rk)
		} else {
			MOVQ(g.r[ky-1], rk)
			ADDQ(Mem{Base: geo}, rk)
		}
	}
	g.broadcastWeights(wp)
	g.vb, g.vlo, g.vhi, g.mask = g.reg(4), g.reg(5), g.reg(6), Y15
	if !z {
		g.vlo, g.vhi = Y13, Y14
	}
	broadcastParam("lo", g.vlo)
	broadcastParam("hi", g.vhi)
	bp, err := Param("bias").Resolve()
	if err != nil {
		panic(err)
	}
	g.biasMem = bp.Addr
	if z {
		VBROADCASTSS(g.biasMem, g.vb)
	}
	g.x, g.xo, g.rem = RBX, R11, RCX
	x, xo, rem := g.x, g.xo, g.rem
	MOVQ(Mem{Base: geo, Disp: 8}, xo) // geo is not needed after this
	XORQ(x, x)                        // xo - x is the phase offset throughout
	TESTQ(oh, oh)
	JZ(LabelRef(fname + "_done"))
	TESTQ(ow, ow)
	JZ(LabelRef(fname + "_done"))

	Label(fname + "_row")
	if s == 2 {
		SUBQ(x, xo) // back to the row's start
	}
	XORQ(x, x)
	MOVQ(ow, rem)
	Label(fname + "_loop4")
	CMPQ(rem, U32(4*g.vec))
	JL(LabelRef(fname + "_tail"))
	g.block(4, false, false)
	g.advance(4 * g.vec)
	SUBQ(U32(4*g.vec), rem)
	JMP(LabelRef(fname + "_loop4"))
	Label(fname + "_tail")
	TESTQ(rem, rem)
	JZ(LabelRef(fname + "_next"))
	g.tail()
	Label(fname + "_next")
	for _, rk := range g.r {
		ADDQ(step, rk)
	}
	LEAQ(Mem{Base: g.dst, Index: ow, Scale: 4}, g.dst)
	DECQ(oh)
	JNZ(LabelRef(fname + "_row"))
	Label(fname + "_done")
	VZEROUPPER()
	RET()
}

// kxk holds the registers of one rowsKxK kernel while it is emitted.
type kxk struct {
	fname        string
	z            bool
	k, s, vec    int
	reg          func(int) VecPhysical
	r            []Register    // the k tap rows' pointers
	wr           []VecPhysical // the k*k weights, broadcast
	vb, vlo, vhi VecPhysical   // bias (zmm only), clamp bounds
	mask         VecPhysical   // ymm: the tail's store mask
	biasMem      Mem
	x, xo, rem   Register // byte offset, odd-phase offset, pixels left
	dst          Register
}

// broadcastWeights puts the k*k weights in registers of their own.
func (g *kxk) broadcastWeights(wp Register) {
	for t := range g.k * g.k {
		switch {
		case g.z && g.k == 3:
			g.wr = append(g.wr, g.reg(16+t))
		case g.z:
			g.wr = append(g.wr, g.reg(7+t))
		default:
			g.wr = append(g.wr, ymm(4+t))
		}
		VBROADCASTSS(Mem{Base: wp, Disp: 4 * t}, g.wr[t])
	}
}

// block emits nv vectors of accumulators at byte offset x of the row, the
// last one masked when masked; with half (zmm kernels), the last one is
// the ymm half of its registers: a row's last 8 or fewer pixels (56-pixel
// rows: 3 zmm vectors and one ymm) at half the cost on CPUs that split
// zmm operations in two.
func (g *kxk) block(nv int, masked, half bool) {
	acc := make([]VecPhysical, nv)
	w := func(v, t int) VecPhysical { return g.wr[t] }
	for v := range acc {
		acc[v] = g.reg(v)
		if g.z {
			vb := g.vb
			if half && v == nv-1 {
				acc[v], vb = acc[v].AsY().(VecPhysical), vb.AsY().(VecPhysical)
			}
			VMOVAPS(vb, acc[v])
		} else {
			VBROADCASTSS(g.biasMem, acc[v])
		}
	}
	if half {
		w = func(v, t int) VecPhysical {
			if v == nv-1 {
				return g.wr[t].AsY().(VecPhysical)
			}
			return g.wr[t]
		}
	}
	for ky, rk := range g.r {
		for kx := range g.k {
			idx, d := g.x, 4*kx
			if g.s == 2 {
				d = 4 * (kx / 2)
				if kx%2 == 1 {
					idx = g.xo
				}
			}
			for v := range acc {
				VFMADD231PS(Mem{Base: rk, Index: idx, Scale: 1, Disp: d + 4*g.vec*v}, w(v, g.k*ky+kx), acc[v])
			}
		}
	}
	for v := range acc {
		lo, hi := g.vlo, g.vhi
		if half && v == nv-1 {
			lo, hi = lo.AsY().(VecPhysical), hi.AsY().(VecPhysical)
		}
		VMAXPS(lo, acc[v], acc[v])
		VMINPS(hi, acc[v], acc[v])
		m := Mem{Base: g.dst, Index: g.x, Scale: 1, Disp: 4 * g.vec * v}
		switch {
		case !masked || v < nv-1:
			VMOVUPS(acc[v], m)
		case g.z:
			VMOVUPS(acc[v], K1, m)
		default:
			VMASKMOVPS(acc[v], g.mask, m)
		}
	}
}

// advance moves the offsets n bytes on.
func (g *kxk) advance(n int) {
	ADDQ(U32(4*n), g.x)
	if g.s == 2 {
		ADDQ(U32(4*n), g.xo)
	}
}

// tail emits the row's last 1 to 4 vectors, the last one masked.
func (g *kxk) tail() {
	for nv := 1; nv <= 4; nv++ {
		lbl := fmt.Sprintf("%s_t%d", g.fname, nv)
		if nv < 4 {
			CMPQ(g.rem, U32(nv*g.vec))
			JG(LabelRef(lbl + "_skip"))
		}
		// The last vector's mask: its rem - (nv-1)*vec pixels.
		MOVQ(g.rem, RDX)
		SUBQ(U32((nv-1)*g.vec), RDX)
		if g.z {
			avxutil.MaskK(EDX, EAX, K1)
		} else {
			avxutil.MaskY(maskName, RDX, RDX, RAX, g.mask)
		}
		if g.z && g.vec == 16 {
			CMPQ(RDX, U8(8))
			JLE(LabelRef(lbl + "_half"))
		}
		g.block(nv, true, false)
		g.advance(nv * g.vec) // keeps x - xo the phase offset for the next row
		JMP(LabelRef(g.fname + "_next"))
		if g.z && g.vec == 16 {
			Label(lbl + "_half")
			g.block(nv, true, true)
			g.advance(nv * g.vec)
			JMP(LabelRef(g.fname + "_next"))
		}
		if nv < 4 {
			Label(lbl + "_skip")
		}
	}
}
