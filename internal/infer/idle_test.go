package infer

import (
	"context"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestIdleAfterRun checks that an engine on two threads uses no CPU once
// its runs end: after batches of 1 (one image on both threads, the pool
// kept awake for the run) and of 4 (image-parallel), the process's CPU time
// over a second of idling stays under 20 ms (a worker left polling would
// use the whole second). It is what `serve` does between requests.
func TestIdleAfterRun(t *testing.T) {
	if testing.Short() {
		t.Skip("idles for a second")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	c, err := LoadFile(filepath.Join(fixtures, "models/mini-v1-opset11.onnx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	input := readF32(t, filepath.Join(fixtures, "models/input-b4.f32"))
	per := 3 * 224 * 224
	px := [][]float32{input[:per], input[per : 2*per], input[2*per : 3*per], input[3*per:]}
	for range 3 {
		for _, b := range [][][]float32{px[:1], px} {
			if _, err := c.Logits(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtime.GC()
	time.Sleep(50 * time.Millisecond) // the workers' last polls (25 µs) end
	c0 := processCPU(t)
	time.Sleep(time.Second)
	if used := processCPU(t) - c0; used > 20*time.Millisecond {
		t.Fatalf("the idle engine used %v of CPU in 1s", used)
	}
}

// processCPU is the process's user and system CPU time.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
