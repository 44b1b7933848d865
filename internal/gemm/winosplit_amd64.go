//go:build !purego

package gemm

// winoSplitKernel is the phase split of m phases, with the AVX-512
// Winograd kernels only (winoIn is set with them, see useWinoAMD64).
func winoSplitKernel(m int) func(dst *float32, ws int, src *float32, w, pl, rows, n int, masks *uint16) {
	switch {
	case winoIn == nil:
		return nil
	case m == 4:
		return winoSplit4AVX512
	case m == 2:
		return winoSplit2AVX512
	}
	return nil
}
