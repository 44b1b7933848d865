//go:build !linux

package gemm

// threadWait is not available here: the pool never stays awake.
func threadWait() (tid int, wait int64, ok bool) { return 0, 0, false }

// cpuPressure is not available here.
func cpuPressure() (stall int64, ok bool) { return 0, false }
