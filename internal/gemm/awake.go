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
// guest kernel counts: the time the polling thread waited on its run
// queue, and the time any task waited for a CPU (the kernel's pressure
// stall count, where kept) (overloaded). When either is too large in a
// meterWindow, the pool parks as it did before (workers after workerSpin,
// callers at once) for backoff, and then tries again. Where the count is
// not available (not Linux, no procfs) the pool never stays awake.

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
	// meterWindow is the span over which a polling worker's run-queue
	// wait is measured; waitShare the share of it that means overload
	// (1/waitShare).
	meterWindow = 2 * time.Millisecond
	waitShare   = 8
	// stallShare: the share (1/stallShare) of a span in which some task
	// of the system waited for a CPU (PSI "some") that means overload.
	stallShare = 4
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
	offStall  atomic.Int64 // 1 + the CPU pressure (ns) when a back-off began, 0 once checked
	offStart  atomic.Int64 // nanotime the back-off began
	canMeter  = meterable()
)

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

// meter measures one worker's run-queue wait, and the system's CPU
// pressure, over meterWindow spans of the time it is awake, across its
// fork-joins; a park ends the span.
type meter struct {
	tid   int   // the thread the span started on
	start int64 // the span's start (nanotime), 0 for none
	wait  int64 // the thread's run-queue wait (ns) at start
	stall int64 // the system's CPU pressure (ns) at start, -1 for none
}

func (m *meter) reset() { m.start = 0 }

// overloaded reports whether the worker's thread waited on its run queue
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
	stall, psi := cpuPressure()
	if !psi {
		stall = -1
	}
	span := now - m.start
	whole := m.start != 0 && tid == m.tid
	// The worker's own wait, or any task's: with three threads on two
	// vCPUs the one that waits may be the caller or the other process.
	over := whole && ((wait-m.wait)*waitShare > span || stall >= 0 && m.stall >= 0 && (stall-m.stall)*stallShare > span)
	m.tid, m.start, m.wait, m.stall = tid, now, wait, stall
	if whole && !over {
		nextOff.Store(nextOff.Load() / 2)
		calmSpans.Add(1)
	}
	return over
}

// backOff parks the pool from now for the next back-off.
func backOff(now int64) {
	d := max(nextOff.Load(), int64(backoff))
	offStart.Store(now)
	if stall, ok := cpuPressure(); ok {
		offStall.Store(1 + stall)
	}
	calmAfter.Store(now + d)
	nextOff.Store(min(2*d, int64(maxBackoff)))
	backoffs.Add(1)
}

// stillOverloaded reports, once after each back-off, whether the CPU
// pressure over the back-off shows the guest still overloaded: then the
// pool backs off again without a span of polling on a busy guest first.
func stillOverloaded(now int64) bool {
	if offStall.Load() == 0 {
		return false
	}
	s0 := offStall.Swap(0)
	stall, ok := cpuPressure()
	return s0 != 0 && ok && (stall-(s0-1))*stallShare > now-offStart.Load()
}

func worker() {
	var m meter
	for {
		p := <-queue
		m.reset()
		for {
			p.g.help(p.gen)
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
		if keep && (stillOverloaded(now) || m.overloaded(now)) {
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
