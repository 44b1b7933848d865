// Command vcpunoise measures how steadily the machine's vCPUs run: one
// busy thread per CPU, each counting fixed units of arithmetic (no memory,
// no sharing) per time window, so that a window in which a thread did much
// less than its best is time the host (or another process) took from that
// vCPU. On a VM whose host steals CPU without reporting it in /proc/stat,
// that is what makes two-thread benchmarks bimodal: a fork-join runs at
// the speed of its slowest thread. bench.sh prints its line before and
// after a benchmark, so the reader can tell a quiet run from a stolen one.
//
//	vcpunoise [-threads N] [-duration 3s] [-window 50ms] [-slow 0.75] [-memory-mib 0]
//
// With -memory-mib N each unit instead reads the next 256 KiB of a buffer
// of N MiB per thread: with N past the last-level cache (64 on a 32 MiB
// L3) the windows then measure the memory bus and the shared L3, which
// other guests on the host share and the arithmetic units cannot see. The
// line then ends in memory_mib=N.
//
// It prints one line:
//
//	vcpu_noise threads=2 windows=60 all_fast=0.37 one_slow=0.45 more_slow=0.18 slowest_thread=0.52
//
// all_fast, one_slow and more_slow are fractions of the windows in which no
// thread, exactly one, or more than one ran below -slow of its own best
// window; slowest_thread is the mean over windows of the slowest thread's
// work relative to its best.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vcpunoise", flag.ContinueOnError)
	fs.SetOutput(stderr)
	threads := fs.Int("threads", runtime.NumCPU(), "busy threads (one per vCPU)")
	duration := fs.Duration("duration", 3*time.Second, "how long to measure")
	window := fs.Duration("window", 50*time.Millisecond, "window length")
	slow := fs.Float64("slow", 0.75, "a thread's window is slow below this fraction of its best")
	memMiB := fs.Int("memory-mib", 0, "0: arithmetic units; N: units that each read the next 256 KiB of an N MiB buffer per thread")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *threads < 1 || *window <= 0 || *duration < 2**window || *slow <= 0 || *slow >= 1 || *memMiB < 0 || *memMiB > 4096 {
		fmt.Fprintln(stderr, "vcpunoise: need -threads >= 1, -duration >= 2 windows, 0 < -slow < 1, 0 <= -memory-mib <= 4096")
		return 2
	}
	units := make([]func() float64, *threads)
	for t := range units {
		units[t] = unit
		if *memMiB > 0 {
			units[t] = memoryUnit(*memMiB)
		}
	}
	line := summarize(measure(units, *duration, *window), *slow)
	if *memMiB > 0 {
		line += fmt.Sprintf(" memory_mib=%d", *memMiB)
	}
	fmt.Fprintln(stdout, line)
	return 0
}

// memoryUnit returns a unit that sums the next 256 KiB of its own buffer
// of mib MiB (touched first, so no unit pays a page fault), wrapping
// around: four chains of adds, so it runs at the speed memory delivers.
func memoryUnit(mib int) func() float64 {
	const chunk = 256 << 10 / 8
	buf := make([]float64, max(mib<<20/8, chunk))
	for i := range buf {
		buf[i] = 1
	}
	off := 0
	return func() float64 {
		if off+chunk > len(buf) {
			off = 0
		}
		var a, b, c, d float64
		x := buf[off : off+chunk]
		for i := 0; i+3 < len(x); i += 4 {
			a += x[i]
			b += x[i+1]
			c += x[i+2]
			d += x[i+3]
		}
		off += chunk
		return a + b + c + d
	}
}

// measure runs one busy thread per unit for d and returns, per thread,
// the units of work it finished in each window.
func measure(units []func() float64, d, window time.Duration) [][]int {
	windows := int(d / window)
	counts := make([][]int, len(units))
	sink := make([]float64, len(units)*8) // one cache line a thread
	var wg sync.WaitGroup
	start := time.Now()
	for t := range counts {
		counts[t] = make([]int, windows)
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			for {
				w := int(time.Since(start) / window)
				if w >= windows {
					return
				}
				sink[t*8] += units[t]()
				counts[t][w]++
			}
		}()
	}
	wg.Wait()
	return counts
}

// unit is about 50 µs of dependent floating-point arithmetic on a 2020s
// core: four chains, so it runs at the FPU's latency, not its memory.
func unit() float64 {
	a, b, c, d := 1.0, 1.1, 1.2, 1.3
	for range 200_000 {
		a = a*0.999999 + 1e-7
		b = b*0.999999 + 1e-7
		c = c*0.999999 + 1e-7
		d = d*0.999999 + 1e-7
	}
	return a + b + c + d
}

// summarize classifies each window by how many threads ran below slow of
// their own best window (the first and last windows are dropped: threads
// start and stop in them).
func summarize(counts [][]int, slow float64) string {
	threads := len(counts)
	windows := len(counts[0])
	lo, hi := min(1, windows-1), max(windows-1, 1)
	if hi-lo < 1 {
		lo, hi = 0, windows
	}
	best := make([]int, threads)
	for t, row := range counts {
		for _, c := range row[lo:hi] {
			best[t] = max(best[t], c)
		}
	}
	var fast, one, more int
	var slowest float64
	for w := lo; w < hi; w++ {
		n, least := 0, 1.0
		for t := range counts {
			r := float64(counts[t][w]) / float64(max(best[t], 1))
			least = min(least, r)
			if r < slow {
				n++
			}
		}
		slowest += least
		switch {
		case n == 0:
			fast++
		case n == 1:
			one++
		default:
			more++
		}
	}
	nw := float64(hi - lo)
	return fmt.Sprintf("vcpu_noise threads=%d windows=%d all_fast=%.2f one_slow=%.2f more_slow=%.2f slowest_thread=%.2f",
		threads, hi-lo, float64(fast)/nw, float64(one)/nw, float64(more)/nw, slowest/nw)
}
