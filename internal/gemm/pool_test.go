package gemm

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestCut(t *testing.T) {
	for _, c := range []struct{ total, parts, th, unit int }{
		{8, 8, 2, 1}, {9, 8, 2, 1}, {100, 8, 2, 1}, {1000, 8, 2, 4}, {64, 3, 2, 1},
		{7, 2, 2, 1}, {196, 16, 4, 1}, {12, 12, 2, 1}, {1 << 20, 64, 16, 1}, {50, 4, 2, 10},
	} {
		prev, first := 0, -1
		for w := 1; w <= c.parts; w++ {
			lo, hi := cut(c.total, c.parts, c.th, c.unit, w-1), cut(c.total, c.parts, c.th, c.unit, w)
			size := hi - lo
			if lo != prev || size < c.unit {
				t.Fatalf("%+v: share %d is [%d, %d), after %d", c, w-1, lo, hi, prev)
			}
			if first < 0 {
				first = size
			}
			// Tapered shares shrink, and none is more than one thread's part.
			if c.parts >= 2*c.th && (size > first || size > c.total/c.th) {
				t.Fatalf("%+v: share %d of %d, the first %d", c, w-1, size, first)
			}
			prev = hi
		}
		if prev != c.total || cut(c.total, c.parts, c.th, c.unit, 0) != 0 {
			t.Fatalf("%+v: the shares end at %d", c, prev)
		}
		if last := c.total - cut(c.total, c.parts, c.th, c.unit, c.parts-1); c.parts >= 2*c.th && c.total >= 4*c.parts && last*c.parts > c.total {
			t.Fatalf("%+v: the last share is %d, more than the mean", c, last)
		}
	}
}

// TestProcParsers checks the schedstat line parser.
func TestProcParsers(t *testing.T) {
	for _, c := range []struct {
		name  string
		parse func([]byte) (int64, bool)
		in    string
		want  int64
		ok    bool
	}{
		{"schedWait", schedWait, "776156 101752 3\n", 101752, true},
		{"schedWait", schedWait, "1 0 0\n", 0, true},
		{"schedWait", schedWait, "5 42\n", 42, true},
		{"schedWait", schedWait, "", 0, false},
		{"schedWait", schedWait, "776156\n", 0, false},
		{"schedWait", schedWait, "7 x 3\n", 0, false},
		{"schedWait", schedWait, "7  3\n", 0, false},
	} {
		if got, ok := c.parse([]byte(c.in)); got != c.want || ok != c.ok {
			t.Errorf("%s(%q) = %d, %v; want %d, %v", c.name, c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestParallelCoversOnce runs fork-joins from several goroutines at once,
// inside and outside Shares, awake and parked, and checks every index is
// run exactly once.
func TestParallelCoversOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	var wg sync.WaitGroup
	for gi := range 4 {
		wg.Go(func() {
			for it := range 200 {
				done := func() {}
				if (gi+it)%3 != 0 {
					done = Share()
				}
				n, grain := 1+(gi*37+it*11)%500, 1+it%7
				seen := make([]atomic.Int32, n)
				Parallel(n, grain, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						seen[i].Add(1)
					}
				})
				for i := range seen {
					if c := seen[i].Load(); c != 1 {
						t.Errorf("n=%d grain=%d: index %d ran %d times", n, grain, i, c)
						return
					}
				}
				done()
			}
		})
	}
	wg.Wait()
}

// cpuTime is the process's user and system CPU time.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// forkJoins runs small fork-joins on two threads for d.
func forkJoins(d time.Duration) {
	x := make([]float32, 1<<14)
	for end := time.Now().Add(d); time.Now().Before(end); {
		Parallel(len(x), 256, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x[i] = x[i]*0.5 + 1
			}
		})
	}
}

// TestPoolAwakeThenIdle checks that a worker polls between the fork-joins
// of a Share, and that once the Share ends the pool parks and uses no CPU.
func TestPoolAwakeThenIdle(t *testing.T) {
	if !canMeter {
		t.Skip("the pool never stays awake here")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	done := Share()
	forkJoins(20 * time.Millisecond)
	b0 := backoffs.Load()
	time.Sleep(5 * time.Millisecond) // serial work between two fork-joins
	if spinning.Load() != 1 && backoffs.Load() == b0 && nanotime() >= calmAfter.Load() {
		t.Errorf("%d workers poll in the Share's gap, want 1", spinning.Load())
	}
	done()
	time.Sleep(20 * time.Millisecond)
	if n := spinning.Load(); n != 0 {
		t.Fatalf("%d workers poll after the Share", n)
	}
	c0 := cpuTime(t)
	time.Sleep(300 * time.Millisecond)
	if used := cpuTime(t) - c0; used > 30*time.Millisecond {
		t.Fatalf("the idle pool used %v of CPU in 300ms", used)
	}
}

// TestPoolBacksOffWhenOverloaded runs as many busy processes as CPUs
// beside an awake pool: the polling worker waits on its run queue, and
// the pool must back off. The busy processes are shell loops, not this
// test binary again: under qemu-user (make test-arm64) an arm64 binary
// cannot exec itself, and a host shell runs anywhere.
func TestPoolBacksOffWhenOverloaded(t *testing.T) {
	if !canMeter {
		t.Skip("the pool never stays awake here")
	}
	if testing.Short() {
		t.Skip("starts busy processes")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to run busy loops")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for range runtime.NumCPU() {
		cmd := exec.Command(sh, "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer cmd.Process.Kill()
	}
	// A back-off left by an earlier test (or -count run) could outlast
	// this one's second: start from a calm pool.
	calmAfter.Store(0)
	nextOff.Store(0)
	done := Share()
	defer done()
	b0 := backoffs.Load()
	forkJoins(time.Second)
	if backoffs.Load() == b0 {
		t.Fatal("no back-off with more busy threads than CPUs")
	}
}

// BenchmarkMulSplitM compares ResNet-50's batch-1 GEMMs of the last two
// stages (split over M; 3x3 convolutions, stride 2 and 1), B given by a
// Source as an implicit im2col is,
// cut into one share per thread (fineM off) and finer (on): run with
// -cpu 2.
func BenchmarkMulSplitM(b *testing.B) {
	defer func(v bool) { fineM = v }(fineM)
	kern := kernelNames()[0]
	for _, s := range [][3]int{{256, 1152, 196}, {256, 2304, 196}, {512, 2304, 49}, {512, 4608, 49}} {
		m, k, n := s[0], s[1], s[2]
		rng := rand.New(rand.NewPCG(1, 2))
		pa := packA(randSlice(rng, m*k), m, k, kernelByName(kern))
		bm := randSlice(rng, k*n)
		c := make([]float32, m*n)
		ep := Epilogue{Bias: randSlice(rng, m), ReLU: true}
		for _, fine := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/fine=%v", kern, m, k, n, fine), func(b *testing.B) {
				fineM = fine
				done := Share()
				defer done()
				for b.Loop() {
					MulSource(c, pa, sliceSource{bm, n}, n, ep)
				}
				b.ReportMetric(2*float64(m)*float64(k)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
