package gemm

import (
	"runtime"
	"sync/atomic"
	"time"
)

// The awake pool. While a computation marked with Share runs on more than
// one thread, a worker that has run its shares polls for the next
// fork-join instead of parking (at most threads()-1 workers at once), and
// a caller polls for its last shares instead of sleeping on them: no
// fork-join waits for a thread to be woken.
//
// Polling only pays while every poller has a vCPU of its own. When the
// guest runs more threads than it has vCPUs (another process, a second
// engine), a polling worker takes CPU from the caller and from the work.
// That is told apart from the host's noise (a vCPU the host slows or
// stops looks the same from inside a thread: its clock jumps) by what the
// guest kernel counts: the time the polling worker's thread, and the
// thread of a caller that forks, waited on their run queues
// (overloaded). When either is too large in a meterWindow, the pool parks
// as it did before (workers after workerSpin, callers at once) for
// backoff, and then tries again. Where the count is not available (not
// Linux, no procfs) the pool never stays awake.
//
// The system's CPU pressure (PSI "some": the time any task waited for a
// CPU) was a signal too, and is not: it counts the tasks the engine's
// threads keep waiting, such as another process at a lower priority (the
// benchmark's nice -20 against another job's nice 0), where polling costs
// the engine nothing. With it the pool spent most of such a run backed
// off, each fork-join's helper woken 85-100 µs late (BENCHMARKS.md, issue
// 12, session 6). A process at the same priority that takes the CPU the
// pool polls on makes the pool's own threads wait, which the meters see.

const (
	// spinCheck is how many polls an awake goroutine makes between looks
	// at the clock.
	spinCheck = 64
	// waitSpin is the longest a caller polls for its last shares before
	// it sleeps.
	waitSpin = 2 * time.Millisecond
	// yieldEvery is how often an awake worker lets the Go scheduler run
	// other goroutines on its P.
	yieldEvery = 20 * time.Microsecond
	// meterWindow is the span over which a polling worker's, or a
	// forking caller's, run-queue wait is measured; waitShare the share
	// of it that means overload (1/waitShare).
	meterWindow = 2 * time.Millisecond
	waitShare   = 8
	// backoff is how long the pool parks after an overload, doubled after
	// each overload and halved after each calm span, up to maxBackoff: a
	// guest that stays overloaded, with a calm moment now and then, costs
	// about one span per maxBackoff of polling where it takes CPU from
	// others.
	backoff    = 100 * time.Millisecond
	maxBackoff = 1600 * time.Millisecond
)

var (
	epoch     = time.Now()
	spinning  atomic.Int32 // workers polling while the pool is awake
	calmAfter atomic.Int64 // nanotime before which the pool does not stay awake
	backoffs  atomic.Int64 // overloads found, for tests
	calmSpans atomic.Int64 // spans found calm, for diagnostics
	nextOff   atomic.Int64 // the next back-off (ns), at least backoff
	canMeter  = meterable()
)

// callers meters the threads of the callers that fork while the pool is
// awake: one caller at a time (busy), every meterWindow (due).
var callers struct {
	busy atomic.Bool
	due  atomic.Int64 // nanotime before which no caller measures
	m    meter
}

// nanotime is monotonic ns since the package started.
func nanotime() int64 { return int64(time.Since(epoch)) }

// awake reports whether the pool stays awake at now.
func awake(now int64) bool {
	return canMeter && running.Load() > 0 && threads() > 1 && now >= calmAfter.Load()
}

// meterable reports whether this thread's run-queue wait can be read.
func meterable() bool {
	_, _, ok := threadWait()
	return ok
}

// meter measures one thread's run-queue wait over meterWindow spans of
// the time the pool is awake, across fork-joins; a park ends a worker's
// span.
type meter struct {
	tid   int   // the thread the span started on
	start int64 // the span's start (nanotime), 0 for none
	wait  int64 // the thread's run-queue wait (ns) at start
}

func (m *meter) reset() { m.start = 0 }

// overloaded reports whether the calling thread waited on its run queue
// for more than a waitShare of the span that ends at now, once a span is
// meterWindow long; it reads the count only at a span's ends.
func (m *meter) overloaded(now int64) bool {
	if m.start != 0 && now-m.start < int64(meterWindow) {
		return false
	}
	tid, wait, ok := threadWait()
	if !ok {
		return false
	}
	span := now - m.start
	whole := m.start != 0 && tid == m.tid
	over := whole && (wait-m.wait)*waitShare > span
	m.tid, m.start, m.wait = tid, now, wait
	if whole && !over {
		nextOff.Store(nextOff.Load() / 2)
		calmSpans.Add(1)
	}
	return over
}

// backOff parks the pool from now for the next back-off.
func backOff(now int64) {
	d := max(nextOff.Load(), int64(backoff))
	calmAfter.Store(now + d)
	nextOff.Store(min(2*d, int64(maxBackoff)))
	backoffs.Add(1)
}

// meterCaller measures the forking caller's thread, at most one caller
// every meterWindow, while the pool is awake: with three threads on two
// vCPUs the one that waits may be the caller, not the polling worker. A
// span that began more than two windows ago (the caller ran no fork-join
// while the pool was awake since) only starts a new one.
func meterCaller(now int64) {
	if now < callers.due.Load() || !awake(now) || !callers.busy.CompareAndSwap(false, true) {
		return
	}
	m := &callers.m
	if m.start != 0 && now-m.start > 2*int64(meterWindow) {
		m.reset()
	}
	if m.overloaded(now) {
		backOff(now)
	}
	callers.due.Store(m.start + int64(meterWindow))
	callers.busy.Store(false)
}

func worker() {
	var m meter
	for {
		p := <-queue
		m.reset()
		for woke := true; ; woke = false {
			noteStart(p, woke)
			p.g.help(p.gen, true)
			var ok bool
			if p, ok = poll(&m); !ok {
				break
			}
		}
	}
}

// poll waits for a post without parking the thread: for as long as the
// pool is awake (and this worker is one of the threads()-1 it keeps), and
// then for workerSpin.
func poll(m *meter) (post, bool) {
	start := nanotime()
	yielded := start
	spin := false
	defer func() {
		if spin {
			spinning.Add(-1)
		}
	}()
	for i := 1; ; i++ {
		select {
		case p := <-queue:
			return p, true
		default:
		}
		if spin && i%spinCheck != 0 {
			continue
		}
		now := nanotime()
		keep := awake(now)
		if keep && m.overloaded(now) {
			backOff(now)
			keep = false
		}
		switch {
		case spin && !keep:
			spin = false
			spinning.Add(-1)
			start = now
			m.reset()
		case !spin && keep:
			if int(spinning.Add(1)) <= threads()-1 {
				spin = true
			} else {
				spinning.Add(-1)
			}
		}
		switch {
		case !spin && now-start > int64(workerSpin):
			return post{}, false
		case !spin || now-yielded > int64(yieldEvery):
			yielded = now
			runtime.Gosched()
		}
	}
}

// pollDone polls until *left is 0 and reports true, or reports false when
// the pool is not awake or after waitSpin.
func pollDone(left *atomic.Int32) bool {
	start := nanotime()
	if !awake(start) {
		return false
	}
	for i := 1; left.Load() > 0; i++ {
		if i%spinCheck != 0 {
			continue
		}
		if now := nanotime(); now-start > int64(waitSpin) || !awake(now) {
			return false
		}
	}
	return true
}
