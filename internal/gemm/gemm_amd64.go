//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

// archKernels are the assembly kernels this CPU (and OS) can run, best
// first.
var archKernels = func() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
		avx512Kernel.alt = avx512WKernel
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return ks
}()

var (
	avx512Kernel = &kernel{name: "avx512", mr: 12, nr: 32, tile: avx512Tile, copyPanels: copyB32, direct: avx512DirectTile,
		narrow: &kernel{name: "avx512", mr: 12, nr: 16, tile: avx512N16Tile, copyPanels: copyB16},
		peak:   peakAVX512, peakFlops: 24 * 16 * 2, gemv: gemvVec}
	// avx512WKernel is the 8x48 tile: PackA picks it over avx512Kernel
	// for the row counts it pads no more (multiples of 8: 64 to 2048
	// channels, and of 24: see forRows), and its 48 columns need 3 B loads and 8 broadcasts
	// per 24 FMAs where 12x32 needs 2 and 12. n = 49 (ResNet's last
	// stage at batch 1) is one tile and one gemv column.
	avx512WKernel = &kernel{name: "avx512w", mr: 8, nr: 48, tile: avx512WTile, copyPanels: copyB48, direct: avx512WDirectTile,
		narrow: &kernel{name: "avx512w", mr: 8, nr: 16, tile: avx512WN16Tile, copyPanels: copyB16},
		peak:   peakAVX512, peakFlops: 24 * 16 * 2, gemv: gemvWVec}
	avx2Kernel = &kernel{name: "avx2", mr: 6, nr: 16, tile: avx2Tile, copyPanels: copyB16, direct: avx2DirectTile, directFewRows: true,
		peak: peakAVX2, peakFlops: 12 * 8 * 2}
)

func init() {
	if cpu.X86.HasAVX2 {
		maxInto = maxIntoVec
	}
	useWinoKernels = useWinoAMD64
	useWinoKernels(active.name)
}

// useWinoAMD64 sets the Winograd transform kernels that go with the GEMM
// kernel named: AVX-512's (which need BMI2 for their masks), AVX2's (F(4x4)
// only), or none.
func useWinoAMD64(name string) {
	winoIn, winoOut, winoIn4, winoOut4 = nil, nil, nil, nil
	avx2 := cpu.X86.HasAVX2 && cpu.X86.HasFMA
	switch {
	case name == "avx512" && cpu.X86.HasAVX512F && cpu.X86.HasBMI2:
		winoIn, winoOut = winoInAVX512, winoOutAVX512
		winoIn4, winoOut4 = winoIn4AVX512, winoOut4AVX512
	case (name == "avx512" || name == "avx2") && avx2:
		winoIn4, winoOut4 = winoIn4AVX2, winoOut4AVX2
	}
	if cpu.X86.HasAVX512F {
		copyRows, copyRowsEvens = copyRowsVec, copyRowsEvensVec
	}
	prefetch = prefetchVec
}

// prefetchVec prefetches the first KiB of p (at least 256 floats long).
func prefetchVec(p []float32) {
	_ = p[255]
	prefetchKiB(&p[0])
}

// copyRowsEvensVec is copyRowsEvens in AVX-512: whole vectors while the
// last row's src holds their 32 floats, then a masked tail of up to 16
// (lanes past the row not read).
func copyRowsEvensVec(dst, src []float32, rows, cols, dstStride, srcStride int) {
	full := cols / 16
	if (rows-1)*srcStride+32*full > len(src) {
		full--
	}
	r := cols - 16*full // 0 to 16 outputs a row, from 2r-1 floats of src
	a := max(2*r-1, 0)
	mask := func(k int) uint16 { return uint16(uint32(1)<<k - 1) }
	copyRowsEvensAVX512(&dst[0], &src[0], rows, full, mask(min(a, 16)), mask(max(a-16, 0)), mask(r), dstStride, srcStride)
}

// copyRowsVec is copyRows in AVX-512 (bounds checked by CopyRows).
func copyRowsVec(dst, src []float32, rows, cols, dstStride, srcStride int) {
	copyRowsAVX512(&dst[0], &src[0], rows, cols/16, uint16(1)<<(cols%16)-1, dstStride, srcStride)
}

// maxIntoVec is MaxInto in AVX2 (len(src) == len(dst) > 0).
func maxIntoVec(dst, src []float32) { maxIntoAVX2(&dst[0], &src[0], len(dst)) }

// gemvVec checks the bounds of gemvAVX512: a is one whole 12-row panel of
// len(x) columns.
func gemvVec(a, x []float32, out *[16]float32) {
	_ = a[len(x)*12-1]
	gemvAVX512(len(x), &a[0], &x[0], &out[0])
}

// gemvWVec checks the bounds of gemvAVX512W: a is one whole 8-row panel
// of len(x) columns.
func gemvWVec(a, x []float32, out *[16]float32) {
	_ = a[len(x)*8-1]
	gemvAVX512W(len(x), &a[0], &x[0], &out[0])
}

// copyB48, copyB32 and copyB16 check the bounds of copyPanels48,
// copyPanels32 and copyPanels16.
func copyB48(dst, src []float32, panels, stride int) {
	_, _ = dst[(panels-1)*stride+47], src[panels*48-1]
	copyPanels48(&dst[0], &src[0], panels, stride)
}

func copyB32(dst, src []float32, panels, stride int) {
	_, _ = dst[(panels-1)*stride+31], src[panels*32-1]
	copyPanels32(&dst[0], &src[0], panels, stride)
}

func copyB16(dst, src []float32, panels, stride int) {
	_, _ = dst[(panels-1)*stride+15], src[panels*16-1]
	copyPanels16(&dst[0], &src[0], panels, stride)
}

// avx512Tile runs every tile, edges included, in assembly: rows past mr are
// skipped and columns past nr masked.
func avx512Tile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	_, _ = a[kc*12-1], b[kc*32-1] // the kernel reads whole panels
	bp, rp := tilePointers(c, ldc, bias, res, flags, mr, nr)
	tileAVX512(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags, mr, uint32(uint64(1)<<nr-1), lo, hi)
}

// avx512DirectTile is avx512Tile reading B in place: kc rows of 32
// floats, ldb apart.
func avx512DirectTile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32, ldb int) {
	_, _ = a[kc*12-1], b[(kc-1)*ldb+31]
	bp, rp := tilePointers(c, ldc, bias, res, flags, mr, nr)
	tileAVX512S(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags, mr, uint32(uint64(1)<<nr-1), lo, hi, ldb)
}

// avx512N16Tile is avx512Tile with 16 columns, for n <= 16.
func avx512N16Tile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	_, _ = a[kc*12-1], b[kc*16-1]
	bp, rp := tilePointers(c, ldc, bias, res, flags, mr, nr)
	tileAVX512N16(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags, mr, uint32(1)<<nr-1, lo, hi)
}

// avx512WTile, avx512WDirectTile and avx512WN16Tile are avx512Tile,
// avx512DirectTile and avx512N16Tile for the 8x48 kernel.
func avx512WTile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	_, _ = a[kc*8-1], b[kc*48-1]
	bp, rp := tilePointers(c, ldc, bias, res, flags, mr, nr)
	tileAVX512W(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags, mr, uint64(1)<<nr-1, lo, hi)
}

func avx512WDirectTile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32, ldb int) {
	_, _ = a[kc*8-1], b[(kc-1)*ldb+47]
	bp, rp := tilePointers(c, ldc, bias, res, flags, mr, nr)
	tileAVX512WS(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags, mr, uint64(1)<<nr-1, lo, hi, ldb)
}

func avx512WN16Tile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	_, _ = a[kc*8-1], b[kc*16-1]
	bp, rp := tilePointers(c, ldc, bias, res, flags, mr, nr)
	tileAVX512WN16(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags, mr, uint32(1)<<nr-1, lo, hi)
}

// avx2Tile runs full tiles in assembly; an edge tile is computed into a
// scratch tile and merged in Go.
func avx2Tile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	const MR, NR = 6, 16
	_, _ = a[kc*MR-1], b[kc*NR-1]
	if mr < MR || nr < NR {
		var tmp [MR * NR]float32
		tileAVX2(kc, &a[0], &b[0], &tmp[0], NR, nil, nil, 0, 0, 0)
		epilogue(tmp[:], NR, c, ldc, bias, res, flags, mr, nr, lo, hi)
		return
	}
	bp, rp := tilePointers(c, ldc, bias, res, flags, MR, NR)
	tileAVX2(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags, lo, hi)
}

// avx2DirectTile is avx2Tile reading B in place: kc rows of 16 floats,
// ldb apart. Only Mul's whole micro-panels come here (nr = 16); the last
// panel's rows past m go through the scratch tile.
func avx2DirectTile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32, ldb int) {
	const MR, NR = 6, 16
	_, _ = a[kc*MR-1], b[(kc-1)*ldb+NR-1]
	if mr < MR || nr < NR {
		var tmp [MR * NR]float32
		tileAVX2S(kc, &a[0], &b[0], &tmp[0], NR, nil, nil, 0, 0, 0, ldb)
		epilogue(tmp[:], NR, c, ldc, bias, res, flags, mr, nr, lo, hi)
		return
	}
	bp, rp := tilePointers(c, ldc, bias, res, flags, MR, NR)
	tileAVX2S(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags, lo, hi, ldb)
}

func init() {
	if cpu.X86.HasAVX512F && cpu.X86.HasBMI2 {
		avx512Kernel.act = &[...]actFunc{nil, actClampZ, actSigmoidZ, actSiLUZ, actHardSwishZ}
		avx512Kernel.narrow.act = avx512Kernel.act
		avx512WKernel.act, avx512WKernel.narrow.act = avx512Kernel.act, avx512Kernel.act
		scaleKernels["avx512"] = scaleZ
		sum64Vec = sum64AVX512
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		avx2Kernel.act = &[...]actFunc{nil, actClampY, actSigmoidY, actSiLUY, actHardSwishY}
		scaleKernels["avx2"] = scaleY
	}
}
