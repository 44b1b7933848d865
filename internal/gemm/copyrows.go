package gemm

// Copies for the engine's im2col and subsample (internal/infer's
// kernels.go), with vector kernels where the CPU has them, and the
// prefetch hook of Mul's A panels.

// CopyRows copies rows rows of cols floats from src, rows srcStride floats
// apart, to dst, rows dstStride apart: the engine's im2col moves a tap's
// whole output rows with it in one call instead of one copy per row.
func CopyRows(dst, src []float32, rows, cols, dstStride, srcStride int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_, _ = dst[(rows-1)*dstStride+cols-1], src[(rows-1)*srcStride+cols-1]
	copyRows(dst, src, rows, cols, dstStride, srcStride)
}

// copyRows is CopyRows's kernel (bounds checked): copyRowsGeneric unless
// the CPU has a vector one (set at init).
var copyRows = copyRowsGeneric

func copyRowsGeneric(dst, src []float32, rows, cols, dstStride, srcStride int) {
	for r := range rows {
		copy(dst[r*dstStride:r*dstStride+cols], src[r*srcStride:r*srcStride+cols])
	}
}

// prefetch, if set, asks the CPU to load the first KiB of p (256 floats,
// len(p) at least that) into L1 ahead of its use.
var prefetch func(p []float32)

// Evens sets dst[i] = src[2i] for i < len(dst): a stride-2 gather (the
// engine's 1x1 stride-2 subsample). src must hold at least 2*len(dst)-1
// floats.
func Evens(dst, src []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	_ = src[2*n-2]
	if n < 16 { // shorter than a vector: the call costs more than the loop
		copyRowsEvensGeneric(dst, src, 1, n, 0, 0)
		return
	}
	copyRowsEvens(dst, src[:min(len(src), 2*n)], 1, n, 0, 0)
}

// CopyRowsEvens is CopyRows of every second float: dst[r*dstStride+c] =
// src[r*srcStride+2c] for r < rows, c < cols (the engine's stride-2
// im2col, straight from the input).
func CopyRowsEvens(dst, src []float32, rows, cols, dstStride, srcStride int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	end := (rows-1)*srcStride + 2*cols - 1 // one past the last float read
	_, _ = dst[(rows-1)*dstStride+cols-1], src[end-1]
	copyRowsEvens(dst, src[:min(len(src), end+1)], rows, cols, dstStride, srcStride)
}

// copyRowsEvens is CopyRowsEvens's kernel (bounds checked; src ends at most
// one float past the last it reads): copyRowsEvensGeneric unless the CPU
// has a vector one (set at init).
var copyRowsEvens = copyRowsEvensGeneric

func copyRowsEvensGeneric(dst, src []float32, rows, cols, dstStride, srcStride int) {
	for r := range rows {
		d, s := dst[r*dstStride:r*dstStride+cols], src[r*srcStride:]
		for c := range d {
			d[c] = s[2*c]
		}
	}
}
