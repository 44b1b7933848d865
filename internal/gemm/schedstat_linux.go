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
	var buf [96]byte
	n := readProc(schedPath, buf[:])
	if n <= 0 {
		return 0, 0, false
	}
	wait, ok = schedWait(buf[:n])
	return syscall.Gettid(), wait, ok
}

// readProc reads the start of the file at path (NUL-terminated) into buf
// without allocating, and returns the bytes read, or -1.
func readProc(path, buf []byte) int {
	fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&path[0])),
		syscall.O_RDONLY|syscall.O_CLOEXEC, 0, 0, 0)
	if errno != 0 {
		return -1
	}
	n, err := syscall.Read(int(fd), buf)
	syscall.Close(int(fd))
	if err != nil {
		return -1
	}
	return n
}
