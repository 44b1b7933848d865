//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

//go:generate sh -c "cd ../../_asm && go run ./arm64 -out ../internal/gemm/gemm_arm64.s -stubs ../internal/gemm/kernels_arm64.go -pkg gemm"

// archKernels are the assembly kernels this CPU can run, best first. Every
// arm64 Linux CPU has ASIMD (NEON); the check keeps the generic kernel for
// one that does not.
var archKernels = func() []*kernel {
	if cpu.ARM64.HasASIMD {
		return []*kernel{neonKernel}
	}
	return nil
}()

// neonKernel is 8x12 (24 of the 32 vector registers accumulate), with an
// 8x4 narrow kernel for n <= 4 and 1..4-column tails: ResNet-50's n (3136,
// 784, 196, 49 at batch 1) are 12q+4 or 12q+1, so its tails cost almost no
// padded columns, and its m are multiples of 8.
var neonKernel = &kernel{name: "neon", mr: 8, nr: 12, tile: neonTile,
	narrow:     &kernel{name: "neon", mr: 8, nr: 4, tile: neonN4Tile},
	copyPanels: copyB12}

// copyB12 checks the bounds of copyPanels12.
func copyB12(dst, src []float32, panels, stride int) {
	_, _ = dst[(panels-1)*stride+11], src[panels*12-1]
	copyPanels12(&dst[0], &src[0], panels, stride)
}

// neonTile runs full 8x12 tiles in assembly; an edge tile is computed into
// a scratch tile and merged in Go.
func neonTile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int) {
	const MR, NR = 8, 12
	_, _ = a[kc*MR-1], b[kc*NR-1] // the kernel reads whole panels
	if mr < MR || nr < NR {
		var tmp [MR * NR]float32
		tileNEON8x12(kc, &a[0], &b[0], &tmp[0], NR, nil, nil, 0)
		epilogue(tmp[:], NR, c, ldc, bias, res, flags, mr, nr)
		return
	}
	bp, rp := neonPointers(c, ldc, bias, res, flags, MR, NR)
	tileNEON8x12(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags)
}

// neonN4Tile is neonTile with 4 columns.
func neonN4Tile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int) {
	const MR, NR = 8, 4
	_, _ = a[kc*MR-1], b[kc*NR-1]
	if mr < MR || nr < NR {
		var tmp [MR * NR]float32
		tileNEON8x4(kc, &a[0], &b[0], &tmp[0], NR, nil, nil, 0)
		epilogue(tmp[:], NR, c, ldc, bias, res, flags, mr, nr)
		return
	}
	bp, rp := neonPointers(c, ldc, bias, res, flags, MR, NR)
	tileNEON8x4(kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags)
}

// neonPointers bounds-checks a full mr x nr tile of C and, as flags ask,
// its bias and residual, and returns the pointers the assembly takes.
func neonPointers(c []float32, ldc int, bias, res []float32, flags, mr, nr int) (bp, rp *float32) {
	if flags&flagBias != 0 {
		bp = &bias[:mr][0]
	}
	if flags&flagRes != 0 {
		rp = &res[:(mr-1)*ldc+nr][0]
	}
	_ = c[(mr-1)*ldc+nr-1]
	return bp, rp
}
