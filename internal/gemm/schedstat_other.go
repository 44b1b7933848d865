//go:build !linux

package gemm

// threadWait is not available here: the pool never stays awake.
func threadWait() (tid int, wait int64, ok bool) { return 0, 0, false }
