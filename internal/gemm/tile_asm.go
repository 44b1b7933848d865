//go:build (amd64 || arm64) && !purego

package gemm

// tilePointers bounds-checks an mr x nr tile of C and, as flags ask, its
// bias and residual, and returns the bias and residual pointers the
// assembly takes (nil when unused).
func tilePointers(c []float32, ldc int, bias, res []float32, flags, mr, nr int) (bp, rp *float32) {
	if flags&flagBias != 0 {
		_ = bias[mr-1]
		bp = &bias[0]
	}
	if flags&flagRes != 0 {
		_ = res[(mr-1)*ldc+nr-1]
		rp = &res[0]
	}
	_ = c[(mr-1)*ldc+nr-1]
	return bp, rp
}
