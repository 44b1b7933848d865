package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool behind Mul and Parallel: a fork-join whose shares are
// claimed one at a time, by the caller and by long-lived workers alike,
// from a shared counter. The work is cut into a few more shares than
// threads (chunksPerThread), the last ones smaller (cut), so when one
// thread runs slower than the other (a vCPU the host runs at half speed,
// or shares it with another process) the faster takes the shares the
// slower has not claimed and waits only for a small one, instead of for a
// half of the layer.
//
// Parking costs more than the wake-up's few µs: a parked thread halts its
// vCPU, and the VM's host may hand the physical CPU away until the next
// wake-up. So while a computation marked with Share runs on more than one
// thread (one inference: 50-200 fork-joins in a row), the workers poll for
// the next fork-join instead of parking, and the caller polls for its last
// shares (awake.go); when none runs, a worker polls for workerSpin after
// its last share and parks, so an idle engine uses no CPU.

// maxParts bounds the shares of one fork-join.
const maxParts = 64

// chunksPerThread is how many shares a fork-join cuts per thread where
// cutting costs nothing but scheduling (see Mul's split).
const chunksPerThread = 4

// workerSpin is how long an idle worker polls for more work before it
// parks when no computation marked with Share keeps the pool awake.
// Short: on a loaded machine, ResNet-50 at batch 1 on 2 threads ran at
// 1-thread speed in 6 of 10 runs with 100 µs (and worse with 2 ms), in 1
// of 10 with 25 µs; 5 µs was slower again (BENCHMARKS.md, issue 12).
const workerSpin = 25 * time.Microsecond

// task is one share of a fork-join: a GEMM job, k blocks [lo, hi) of a
// job's shared B to pack (pack), a GEMM job that reads B packed whole by
// the thread that runs it (own), or fn(lo, hi).
type task struct {
	j    job
	pack bool
	own  bool
	fn   func(lo, hi int)
	lo   int
	hi   int
}

// group is one fork-join's shares, pooled so that Mul does not allocate.
// state packs the fork-join's generation (high 32 bits), its share count
// (bits 16-31) and the next unclaimed share (low 16 bits): a worker holding
// a post of an earlier generation, for a group since reused, claims
// nothing.
type group struct {
	state atomic.Uint64
	gen   uint32 // the poster's generation counter
	tasks [maxParts]task
	left  atomic.Int32  // shares not yet done
	sleep atomic.Uint64 // sleeping|gen while the caller of gen sleeps on wake
	wake  chan struct{}
	fork  int64 // nanotime of the fork, for -tags poolstats only
}

// post is a fork-join as queued for a worker.
type post struct {
	g   *group
	gen uint32
}

var (
	groups     = sync.Pool{New: func() any { return new(group) }}
	queue      = make(chan post, 4*maxParts)
	workersMu  sync.Mutex
	numWorkers int
)

// running counts the computations in progress that share the workers
// (see Share).
var running atomic.Int32

// Share marks the start of one of several independent computations that
// run at once, such as the engine's lanes, and returns the function that
// marks its end. While k of them run, each Mul and Parallel uses
// GOMAXPROCS/k threads (at least one), so k lanes use the cores once
// between them instead of each forking onto the others' cores; and while
// they run on more than one thread the pool stays awake (see awake.go):
// one Share should span one inference, not the life of a server.
func Share() (done func()) {
	running.Add(1)
	var once sync.Once
	return func() { once.Do(func() { running.Add(-1) }) }
}

// threads is how many threads one Mul or Parallel uses now.
func threads() int {
	return max(1, runtime.GOMAXPROCS(0)/max(1, int(running.Load())))
}

// claim returns the index of the next unclaimed share of generation gen,
// or -1 when there is none.
func (g *group) claim(gen uint32) int {
	for {
		s := g.state.Load()
		next, n := int(s&0xffff), int(s>>16&0xffff)
		if uint32(s>>32) != gen || next >= n {
			return -1
		}
		if g.state.CompareAndSwap(s, s+1) {
			return next
		}
	}
}

// workerDrag, when above 0, makes a worker (not a caller) spin for
// workerDrag times as long as each share took after running it: a test
// hook that runs the helper thread as a vCPU the host slows would
// (workerDrag 1: half speed), for the benchmarks that compare splits.
var workerDrag float64

// help runs shares of generation gen until none is left; worker is
// whether a worker, not the fork's caller, runs them.
func (g *group) help(gen uint32, worker bool) {
	var own *[]float32 // B packed whole by this thread, for own shares
	for i := g.claim(gen); i >= 0; i = g.claim(gen) {
		t := &g.tasks[i]
		var t0 int64
		if worker && workerDrag > 0 {
			t0 = nanotime()
		}
		switch {
		case t.fn != nil:
			t.fn(t.lo, t.hi)
		case t.pack:
			t.j.packBlocks(t.lo, t.hi)
		case t.own:
			j := t.j
			own = j.packOwn(own)
			j.run()
		default:
			t.j.run()
		}
		if t0 != 0 {
			for end := nanotime() + int64(float64(nanotime()-t0)*workerDrag); nanotime() < end; {
			}
		}
		if g.left.Add(-1) == 0 {
			if s := sleeping | uint64(gen); g.sleep.Load() == s && g.sleep.CompareAndSwap(s, 0) {
				g.wake <- struct{}{}
			}
		}
	}
	if own != nil {
		sharedPool.Put(own)
	}
}

// sleeping marks g.sleep set.
const sleeping = 1 << 32

// wait returns when every share of generation gen is done: at once if
// they are, else after polling for them while the pool is awake (a share
// left is held by a running worker), else asleep on wake. The worker that
// finishes the last share sends on wake only if it finds sleep set for
// its generation (a worker still finishing help when the group is reused
// finds another), and the caller, if it finds the shares done after
// setting it, takes sleep back or the token: no token outlives its
// fork-join.
func (g *group) wait(gen uint32) {
	if g.left.Load() == 0 || pollDone(&g.left) {
		return
	}
	s := sleeping | uint64(gen)
	g.sleep.Store(s)
	if g.left.Load() > 0 || !g.sleep.CompareAndSwap(s, 0) {
		<-g.wake
	}
}

// run executes tasks[:n] of g (filled by the caller) on the caller and up
// to helpers workers, and returns g to the pool when all are done.
func (g *group) run(n, helpers int) {
	helpers = min(helpers, n-1)
	ensureWorkers(helpers)
	g.gen++
	gen := g.gen
	if g.wake == nil {
		g.wake = make(chan struct{}, 1)
	}
	g.left.Store(int32(n))
	g.state.Store(uint64(gen)<<32 | uint64(n)<<16)
	noteFork(g)
	if helpers > 0 {
		meterCaller(nanotime())
	}
	for range helpers {
		select {
		case queue <- post{g, gen}:
		default: // the queue is full: the caller runs the shares
		}
	}
	g.help(gen, false)
	t := noteNow()
	g.wait(gen)
	noteWaited(t)
	for i := range n {
		g.tasks[i].j, g.tasks[i].fn, g.tasks[i].pack, g.tasks[i].own = job{}, nil, false, false // drop references to the caller's data
	}
	groups.Put(g)
}

// cut returns where share w of parts over [0, total) starts, every share
// at least unit long. Where there are at least two shares per thread of
// th, they shrink linearly, the first about twice the mean and the last
// about 1/parts of it: the shares claimed last, which one thread may still
// run after the other has none left, are the small ones, so a thread at
// half speed (a vCPU the host slows) costs the fork-join little.
func cut(total, parts, th, unit, w int) int {
	if parts < 2*th {
		return w * total / parts
	}
	extra, pp := total-parts*unit, parts*parts
	return w*unit + (extra*w*(2*parts-w)+pp-1)/pp
}

// ensureWorkers starts workers until n run (at most maxParts). Workers
// live for the life of the process; after warm-up none starts, so Mul
// allocates nothing.
func ensureWorkers(n int) {
	workersMu.Lock()
	defer workersMu.Unlock()
	for ; numWorkers < min(n, maxParts); numWorkers++ {
		go worker()
	}
}

// Parallel splits [0, n) into contiguous ranges of at least grain items,
// up to chunksPerThread per thread, the last ones smaller (cut), and runs
// fn on each, concurrently, on Mul's workers and the caller. fn must not
// call Parallel or Mul itself.
func Parallel(n, grain int, fn func(lo, hi int)) {
	th := threads()
	parts := min(chunksPerThread*th, n/max(grain, 1), maxParts)
	if th <= 1 || parts <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	g := groups.Get().(*group)
	unit := max(grain, 1)
	for w := range parts {
		t := &g.tasks[w]
		t.fn, t.lo, t.hi = fn, cut(n, parts, th, unit, w), cut(n, parts, th, unit, w+1)
	}
	g.run(parts, th-1)
}

// MulMany computes c[i] = a[i]*b[i] (no epilogue) for every i, each B k x n
// row-major and each C m x n, as Mul would, but splits the products whole
// between the workers instead of splitting each: for many small products,
// such as Winograd's 16 per convolution, that is one fork-join instead of
// one per product. The a[i] must share a kernel.
func MulMany(c []([]float32), a []*PackedA, b []([]float32), n int) {
	if len(c) != len(a) || len(b) != len(a) {
		panic("gemm: MulMany: slices of different lengths")
	}
	for i := range a {
		if n < 1 || len(b[i]) < a[i].k*n || len(c[i]) < a[i].m*n {
			panic("gemm: MulMany: bad shapes")
		}
	}
	Parallel(len(a), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			mulSerial(c[i], a[i], b[i], n, Epilogue{})
		}
	})
}
