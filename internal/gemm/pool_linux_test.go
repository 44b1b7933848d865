package gemm

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestThreadWait(t *testing.T) {
	if _, err := os.Stat("/proc/thread-self/schedstat"); err != nil {
		if _, _, ok := threadWait(); ok || canMeter {
			t.Fatal("threadWait reads a file that is not there")
		}
		t.Skip("no /proc/thread-self/schedstat: the pool never stays awake here")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid, w0, ok := threadWait()
	if !ok || !canMeter || tid != syscall.Gettid() {
		t.Fatalf("threadWait() = %d, %d, %v (canMeter %v), on thread %d", tid, w0, ok, canMeter, syscall.Gettid())
	}
	time.Sleep(time.Millisecond)
	if _, w1, _ := threadWait(); w1 < w0 {
		t.Fatalf("the run-queue wait went back from %d to %d", w0, w1)
	}
	if n := testing.AllocsPerRun(10, func() { threadWait() }); n != 0 && !raceEnabled {
		t.Fatalf("threadWait allocates %v times", n)
	}
}
