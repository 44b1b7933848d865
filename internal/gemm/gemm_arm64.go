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
func neonTile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	neonRun(12, kc, a, b, c, ldc, bias, res, flags, mr, nr, lo, hi)
}

// neonN4Tile is neonTile with 4 columns.
func neonN4Tile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	neonRun(4, kc, a, b, c, ldc, bias, res, flags, mr, nr, lo, hi)
}

// neonRun runs the 8 x NR kernel (NR = 12 or 4) on one tile.
func neonRun(NR, kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	const MR = 8
	_, _ = a[kc*MR-1], b[kc*NR-1] // the kernel reads whole panels
	if mr < MR || nr < NR {
		var tmp [MR * 12]float32
		neonAsm(NR, kc, &a[0], &b[0], &tmp[0], NR, nil, nil, 0)
		epilogue(tmp[:MR*NR], NR, c, ldc, bias, res, flags, mr, nr, lo, hi)
		return
	}
	bp, rp := tilePointers(c, ldc, bias, res, flags, MR, NR)
	neonAsm(NR, kc, &a[0], &b[0], &c[0], ldc, bp, rp, flags&^flagClamp)
	if flags&flagClamp != 0 { // the NEON kernel has no clamp: on the tile, in cache
		for i := range MR {
			actGeneric(c[i*ldc:i*ldc+NR], Act{Kind: ActClamp, Lo: lo, Hi: hi})
		}
	}
}

// neonAsm calls the assembly kernel for NR (a direct call, so the scratch
// tile stays on the stack).
func neonAsm(NR, kc int, a, b, c *float32, ldc int, bias, res *float32, flags int) {
	if NR == 12 {
		tileNEON8x12(kc, a, b, c, ldc, bias, res, flags)
	} else {
		tileNEON8x4(kc, a, b, c, ldc, bias, res, flags)
	}
}
