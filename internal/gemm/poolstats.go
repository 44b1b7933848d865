//go:build poolstats

package gemm

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// With -tags poolstats (diagnostics only) the pool prints once a second to
// stderr its back-offs and, over the fork-joins of that second, how late a
// worker started on a fork-join after it was posted (woken from its park,
// or found polling) and how long callers waited for their last shares.

var (
	statMu     sync.Mutex
	statWoke   []int64 // ns from fork to a parked worker's start
	statPolled []int64 // ns from fork to a polling worker's start
	statWait   []int64 // ns a caller waited in wait
	statForks  atomic.Int64
	statAwake  atomic.Int64 // forks posted while the pool was awake
)

func noteFork(g *group) {
	g.fork = nanotime()
	statForks.Add(1)
	if awake(g.fork) {
		statAwake.Add(1)
	}
}

func noteStart(p post, woke bool) {
	d := nanotime() - p.g.fork
	statMu.Lock()
	if woke {
		statWoke = append(statWoke, d)
	} else {
		statPolled = append(statPolled, d)
	}
	statMu.Unlock()
}

func noteNow() int64 { return nanotime() }

func noteWaited(t int64) {
	d := nanotime() - t
	statMu.Lock()
	statWait = append(statWait, d)
	statMu.Unlock()
}

// quantiles formats the count, median, 90th percentile and max of ds in µs.
func quantiles(ds []int64) string {
	if len(ds) == 0 {
		return "0"
	}
	slices.Sort(ds)
	q := func(f float64) float64 { return float64(ds[int(f*float64(len(ds)-1))]) / 1e3 }
	return fmt.Sprintf("%d p50 %.1f p90 %.1f max %.1f µs", len(ds), q(0.5), q(0.9), q(1))
}

func init() {
	go func() {
		var last int64
		for range time.Tick(time.Second) {
			b, c := backoffs.Load(), calmSpans.Swap(0)
			statMu.Lock()
			woke, polled, wait := quantiles(statWoke), quantiles(statPolled), quantiles(statWait)
			statWoke, statPolled, statWait = statWoke[:0], statPolled[:0], statWait[:0]
			statMu.Unlock()
			fmt.Fprintf(os.Stderr, "gemm pool: %d back-offs, %d calm spans, next %v (meter %v); forks %d (awake %d); start woken %s; start polled %s; caller wait %s\n",
				b-last, c, time.Duration(nextOff.Load()), canMeter, statForks.Swap(0), statAwake.Swap(0), woke, polled, wait)
			last = b
		}
	}()
}
