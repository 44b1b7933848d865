//go:build !amd64 || purego

package gemm

// winoSplitKernel is nil: no vector phase split here.
func winoSplitKernel(int) func(dst *float32, ws int, src *float32, w, pl, rows, n int, masks *uint16) {
	return nil
}
