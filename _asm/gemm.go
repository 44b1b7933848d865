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

// Flags; keep in sync with internal/gemm/epilogue.go.
const (
	flagAccum = 1 << iota
	flagBias
	flagRes
	flagReLU
	flagClamp
	flagPrefetch
)

func main() {
	ConstraintExpr("!purego")
	avx512("tileAVX512", 12, 32, false)
	avx512D("tileAVX512N16", 12, 16, false, 4096) // for n <= 16 (the FC layer at small batch)
	avx512("tileAVX512S", 12, 32, true)           // B read in place (small k)
	// 8 rows: no padded rows for the 64 to 2048 channels of ResNet, and 48
	// columns: 11 loads per 24 FMAs instead of 14 (see kernels_amd64.go).
	avx512("tileAVX512W", 8, 48, false)
	avx512D("tileAVX512WN16", 8, 16, false, 4096)
	avx512("tileAVX512WS", 8, 48, true)
	avx2("tileAVX2", 6, 16, false)
	avx2("tileAVX2S", 6, 16, true) // B read in place (small k or m)
	copyPanels("copyPanels32", 32, 64, true)
	copyPanels("copyPanels48", 48, 64, true)
	copyPanels("copyPanels16", 16, 32, false)
	gemv("gemvAVX512", 12)
	gemvY("gemvAVX512W")
	winoIn()
	winoOut()
	maxInto()
	copyRows()
	copyRowsEvens()
	prefetchA()
	activations()
	fmaPeak("peakAVX512", 24, true)
	fmaPeak("peakAVX2", 12, false)
	Generate()
}

// avx512 emits an MR x NR (NR = 16, 32 or 48) kernel with MR*NR/16 zmm
// accumulators. Rows past the argument mr are skipped; columns are masked
// by mask (bit j for column j), so one kernel serves edge tiles too and
// never touches C outside the tile. strided: B is not a packed panel but
// kc rows of NR floats read in place, ldb floats apart (the extra
// argument), so a small-k product needs no B packing.
func avx512(fname string, MR, NR int, strided bool) { avx512D(fname, MR, NR, strided, 1024) }

// avx512D is avx512 with the A panel prefetched dist bytes ahead (see
// kLoops): 1 KiB for the 32- and 48-wide tiles; 4 KiB for the 16-wide ones,
// which take a third to a half as long per row of k, so that the prefetch
// still runs about 1000 cycles ahead of a weight matrix read from memory
// (Winograd F(2x2)'s 512 x 512 products with n = 16 at 7x7: 5% faster).
func avx512D(fname string, MR, NR int, strided bool, dist int) {
	const vec = 16
	nv := NR / vec
	maskType := "uint32"
	if nv > 2 {
		maskType = "uint64"
	}
	sig := "func(kc int, a, b, c *float32, ldc int, bias, res *float32, flags, mr int, mask " + maskType + ", lo, hi float32)"
	doc := fmt.Sprintf("%s computes one %dx%d tile of C; see tileFunc.", fname, MR, NR)
	if strided {
		sig = "func(kc int, a, b, c *float32, ldc int, bias, res *float32, flags, mr int, mask " + maskType + ", lo, hi float32, ldb int)"
		doc = fmt.Sprintf("%s computes one %dx%d tile of C from B rows ldb floats apart; see tileFunc.", fname, MR, NR)
	}
	TEXT(fname, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	kc := Load(Param("kc"), RAX)
	ap := Load(Param("a"), RSI)
	bp := Load(Param("b"), RDI)
	bRow, bStep := bRows(bp, NR, strided)

	acc := make([][]VecPhysical, MR)
	for i := range acc {
		acc[i] = make([]VecPhysical, nv)
		for v := range nv {
			acc[i][v] = zmm(i*nv + v)
			VPXORD(acc[i][v], acc[i][v], acc[i][v])
		}
	}
	var bv []VecPhysical
	for v := range nv {
		bv = append(bv, zmm(MR*nv+v))
	}
	var bc []VecPhysical // broadcast registers, used in turn
	// Z30 and Z31 hold the clamp's lower bound and zero in the epilogue.
	for r := MR*nv + nv; r < 30 && len(bc) < 4; r++ {
		bc = append(bc, zmm(r))
	}
	if len(bc) < 2 {
		panic("too many zmm registers")
	}

	step := func(p int) {
		for v := range nv {
			VMOVUPS(bRow(p, 4*v*vec), bv[v])
		}
		for i := range MR {
			t := bc[i%len(bc)]
			VBROADCASTSS(Mem{Base: ap, Disp: 4 * (p*MR + i)}, t)
			for v := range nv {
				VFMADD231PS(bv[v], t, acc[i][v])
			}
		}
	}
	prefetchTile(fname, MR, NR)
	kLoops(kc, ap, MR, NR, step, bStep, dist, fname)

	avx512Epilogue(fname, MR, nv, acc, bc)
	Label(fname + "_done")
	VZEROUPPER()
	RET()
}

// prefetchTile emits prefetches of the tile's C rows, and of its residual
// rows when flagRes is set, before the k loop: the epilogue then finds them
// in L1 instead of waiting on L3 or memory for 2*MR*NR floats at once (at
// k = 64, with a residual, that wait was a quarter of the product's time).
// A row of NR floats spans up to NR/16+1 lines when C is not aligned.
// It uses R8 to R11, which the epilogue loads afresh.
func prefetchTile(fname string, MR, NR int) {
	flags := Load(Param("flags"), R11)
	onFlag(flags, flagPrefetch, fname+"_prefetch", func() {
		ldc := Load(Param("ldc"), R9)
		SHLQ(U8(2), ldc)
		rows := func(p Register) {
			for i := range MR {
				for d := 0; d < 4*NR; d += 64 {
					PREFETCHT0(Mem{Base: p, Disp: d})
				}
				PREFETCHT0(Mem{Base: p, Disp: 4*NR - 4})
				if i < MR-1 {
					ADDQ(ldc, p)
				}
			}
		}
		rows(Load(Param("c"), R8))
		onFlag(flags, flagRes, fname+"_prefetch_res", func() { rows(Load(Param("res"), R10)) })
	})
}

// bRows is how tileAVX512's k loop addresses B: row p of an unrolled step
// and the step to the next rows.
func bRows(bp Register, NR int, strided bool) (bRow func(p, disp int) Mem, bStep func(steps int)) {
	// B row p of an unrolled step: packed, a displacement; strided, bp
	// plus 0, 1, 2 or 3 times ldb (bytes; RCX, RDX: free until the
	// epilogue).
	bRow = func(p, disp int) Mem { return Mem{Base: bp, Disp: 4*p*NR + disp} }
	bStep = func(steps int) { ADDQ(U32(4*steps*NR), bp) }
	if strided {
		ldb := Load(Param("ldb"), RCX)
		SHLQ(U8(2), ldb)
		ldb3 := RDX
		LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
		bRow = func(p, disp int) Mem {
			switch p {
			case 0:
				return Mem{Base: bp, Disp: disp}
			case 3:
				return Mem{Base: bp, Index: ldb3, Scale: 1, Disp: disp}
			}
			return Mem{Base: bp, Index: ldb, Scale: uint8(p), Disp: disp}
		}
		bStep = func(steps int) {
			if steps == 1 {
				ADDQ(ldb, bp)
				return
			}
			LEAQ(Mem{Base: bp, Index: ldb, Scale: 4}, bp)
		}
	}
	return bRow, bStep
}

// avx512Epilogue emits the tile's epilogue: accumulate, bias, residual,
// ReLU and clamp by flag, then the masked stores of the rows in mr.
func avx512Epilogue(fname string, MR, nv int, acc [][]VecPhysical, bc []VecPhysical) {
	cp := Load(Param("c"), RDX)
	ldc := Load(Param("ldc"), RCX)
	SHLQ(U8(2), ldc)
	bias := Load(Param("bias"), R8)
	rp := Load(Param("res"), R9)
	flags := Load(Param("flags"), R10)
	mr := Load(Param("mr"), R11)
	masks := []Register{K1, K2, K3}[:nv]
	if nv > 2 {
		Load(Param("mask"), R12)
		for v, k := range masks {
			if v > 0 {
				SHRQ(U8(16), R12)
			}
			KMOVW(R12L, k)
		}
	} else {
		mask := Load(Param("mask"), R12L)
		KMOVW(mask, K1)
		SHRL(U8(16), mask)
		KMOVW(mask, K2)
	}
	zero := zmm(31)
	VPXORD(zero, zero, zero)
	// The clamp's bounds, in registers the k loop no longer needs.
	lo, hi := zmm(30), bc[len(bc)-1]
	loadClamp(flags, fname, lo, hi)
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
		onFlag(flags, flagClamp, fmt.Sprintf("%s_row%d_clamp", fname, i), func() {
			for v := range nv {
				clamp(acc[i][v], lo, hi)
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
}

// avx2 emits tileAVX2: a full mr x 16 tile in 2*mr ymm accumulators. It has
// no masking: the Go side runs edge tiles into a scratch tile. strided: B
// read in place, kc rows ldb floats apart (tileAVX2S, as tileAVX512S).
func avx2(fname string, MR, NR int, strided bool) {
	const vec = 8
	nv := NR / vec
	sig := "func(kc int, a, b, c *float32, ldc int, bias, res *float32, flags int, lo, hi float32)"
	doc := fmt.Sprintf("%s computes one full %dx%d tile of C; see tileFunc.", fname, MR, NR)
	if strided {
		sig = "func(kc int, a, b, c *float32, ldc int, bias, res *float32, flags int, lo, hi float32, ldb int)"
		doc = fmt.Sprintf("%s computes one full %dx%d tile of C from B rows ldb floats apart; see tileFunc.", fname, MR, NR)
	}
	TEXT(fname, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	kc := Load(Param("kc"), RAX)
	ap := Load(Param("a"), RSI)
	bp := Load(Param("b"), RDI)
	bRow, bStep := bRows(bp, NR, strided)

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
			VMOVUPS(bRow(p, 4*v*vec), bv[v])
		}
		for i := range MR {
			t := bc[i%len(bc)]
			VBROADCASTSS(Mem{Base: ap, Disp: 4 * (p*MR + i)}, t)
			for v := range nv {
				VFMADD231PS(bv[v], t, acc[i][v])
			}
		}
	}
	kLoops(kc, ap, MR, NR, step, bStep, 0, fname)

	cp := Load(Param("c"), RDX)
	ldc := Load(Param("ldc"), RCX)
	SHLQ(U8(2), ldc)
	bias := Load(Param("bias"), R8)
	rp := Load(Param("res"), R9)
	flags := Load(Param("flags"), R10)
	zero := bv[0]
	VXORPS(zero, zero, zero)
	lo, hi := bv[1], bc[1] // free after the k loop (bc[0] is the bias)
	loadClamp(flags, fname, lo, hi)
	for i := range MR {
		onFlag(flags, flagAccum, fmt.Sprintf("%s_row%d_accum", fname, i), func() {
			for v := range nv {
				VADDPS(Mem{Base: cp, Disp: 32 * v}, acc[i][v], acc[i][v])
			}
		})
		onFlag(flags, flagBias, fmt.Sprintf("%s_row%d_bias", fname, i), func() {
			t := bc[0]
			VBROADCASTSS(Mem{Base: bias, Disp: 4 * i}, t)
			for v := range nv {
				VADDPS(t, acc[i][v], acc[i][v])
			}
		})
		onFlag(flags, flagRes, fmt.Sprintf("%s_row%d_res", fname, i), func() {
			for v := range nv {
				VADDPS(Mem{Base: rp, Disp: 32 * v}, acc[i][v], acc[i][v])
			}
		})
		onFlag(flags, flagReLU, fmt.Sprintf("%s_row%d_relu", fname, i), func() {
			for v := range nv {
				VMAXPS(acc[i][v], zero, acc[i][v])
			}
		})
		onFlag(flags, flagClamp, fmt.Sprintf("%s_row%d_clamp", fname, i), func() {
			for v := range nv {
				clamp(acc[i][v], lo, hi)
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

// kLoops emits the k loop: unrolled by 4, then one step at a time. With
// prefetchA > 0 it also prefetches the A panel that many bytes ahead, three lines per
// unrolled iteration: A panels come from L3 (the packed weights outgrow L2)
// and are reused for few B micro-panels when n is small; measured +2-14%
// on ResNet-50 shapes.
// bStep advances B by that many rows; fname names the labels.
func kLoops(kc, ap Register, MR, NR int, step func(p int), bStep func(steps int), prefetchA int, fname string) {
	const unroll = 4
	name := fname + "_k" // labels are per function
	n := RBX
	MOVQ(kc, n)
	SHRQ(U8(2), n)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_loop4")
	for p := range unroll {
		step(p)
		if prefetchA > 0 && p < 3 {
			PREFETCHT0(Mem{Base: ap, Disp: prefetchA + 64*p})
		}
	}
	ADDQ(U32(4*unroll*MR), ap)
	bStep(unroll)
	DECQ(n)
	JNZ(LabelRef(name + "_loop4"))
	Label(name + "_tail")
	ANDQ(U8(unroll-1), kc)
	JZ(LabelRef(name + "_end"))
	Label(name + "_loop1")
	step(0)
	ADDQ(U32(4*MR), ap)
	bStep(1)
	DECQ(kc)
	JNZ(LabelRef(name + "_loop1"))
	Label(name + "_end")
}
