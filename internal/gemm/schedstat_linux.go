package gemm

import (
	"syscall"
	"unsafe"
)

// schedPath is the calling thread's scheduler counters, NUL-terminated
// for openat: on-CPU ns, run-queue wait ns, timeslices.
var schedPath = []byte("/proc/thread-self/schedstat\x00")

// atFDCWD is openat's "relative to the working directory".
var atFDCWD = -100

// threadWait returns the calling OS thread's id and the ns it has waited
// on a run queue, without allocating; ok is false where the file is
// missing or unreadable.
func threadWait() (tid int, wait int64, ok bool) {
	fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&schedPath[0])),
		syscall.O_RDONLY|syscall.O_CLOEXEC, 0, 0, 0)
	if errno != 0 {
		return 0, 0, false
	}
	var buf [96]byte
	n, err := syscall.Read(int(fd), buf[:])
	syscall.Close(int(fd))
	if err != nil || n <= 0 {
		return 0, 0, false
	}
	wait, ok = schedWait(buf[:n])
	return syscall.Gettid(), wait, ok
}
