package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool behind Mul and Parallel: a fork-join in which the caller
// runs the last share itself, posts the others to long-lived workers, and
// then runs every share no worker has claimed yet. On a busy machine, where
// a parked worker can take milliseconds to be scheduled, a fork-join so
// degrades to the caller doing the work alone instead of waiting for the
// late worker (before, 2 threads ran ResNet-50 slower than 1 under load).
// Workers spin for workerSpin after each share before they park, so the
// next fork of a network run (tens of microseconds later) finds them awake,
// as ONNX Runtime's pool does.

// maxParts bounds the shares of one fork-join.
const maxParts = 64

// workerSpin is how long an idle worker polls for more work before it
// parks: a little more than the gap between a network's ops.
const workerSpin = 100 * time.Microsecond

// task is one share of a fork-join: a GEMM job, or fn(lo, hi).
type task struct {
	state atomic.Uint64 // gen<<1, | 1 once claimed; gen tells a reused task from a stale post
	gen   uint64        // the poster's generation counter
	j     job
	fn    func(lo, hi int)
	lo    int
	hi    int
	g     *group
}

// group is one fork-join's shares, pooled so that Mul does not allocate.
type group struct {
	tasks [maxParts]task
	wg    sync.WaitGroup
}

// post is a task as queued: a worker claims it only if gen still matches.
type post struct {
	t   *task
	gen uint64
}

var (
	groups = sync.Pool{New: func() any {
		g := new(group)
		for i := range g.tasks {
			g.tasks[i].g = g
		}
		return g
	}}
	queue      = make(chan post, 4*maxParts)
	workersMu  sync.Mutex
	numWorkers int
)

func (t *task) claim(gen uint64) bool { return t.state.CompareAndSwap(gen<<1, gen<<1|1) }

func (t *task) exec() {
	if t.fn != nil {
		t.fn(t.lo, t.hi)
	} else {
		t.j.run()
	}
	t.g.wg.Done()
}

// fork posts tasks[:n] of g (filled by the caller) to the workers.
func (g *group) fork(n int) {
	ensureWorkers(runtime.GOMAXPROCS(0) - 1)
	g.wg.Add(n)
	for i := range n {
		t := &g.tasks[i]
		t.gen++
		t.state.Store(t.gen << 1)
		select {
		case queue <- post{t, t.gen}:
		default: // the queue is full: join runs it
		}
	}
}

// join runs the tasks no worker has claimed, then waits for the others.
func (g *group) join(n int) {
	for i := range n {
		if t := &g.tasks[i]; t.claim(t.gen) {
			t.exec()
		}
	}
	g.wg.Wait()
	for i := range n {
		g.tasks[i].j, g.tasks[i].fn = job{}, nil // drop references to the caller's data
	}
	groups.Put(g)
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

func worker() {
	for {
		p := <-queue
		for {
			if p.t.claim(p.gen) {
				p.t.exec()
			}
			var ok bool
			if p, ok = poll(); !ok {
				break
			}
		}
	}
}

// poll waits up to workerSpin for a post without parking the thread.
func poll() (post, bool) {
	start := time.Now()
	for {
		select {
		case p := <-queue:
			return p, true
		default:
		}
		if time.Since(start) > workerSpin {
			return post{}, false
		}
		runtime.Gosched()
	}
}

// Parallel splits [0, n) into up to GOMAXPROCS contiguous ranges of at
// least grain items and runs fn on each, concurrently, on Mul's workers;
// the caller runs one range and any no worker has started. fn must not
// call Parallel or Mul itself.
func Parallel(n, grain int, fn func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n/max(grain, 1), maxParts)
	if parts <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	g := groups.Get().(*group)
	for w := range parts - 1 {
		t := &g.tasks[w]
		t.fn, t.lo, t.hi = fn, w*n/parts, (w+1)*n/parts
	}
	g.fork(parts - 1)
	fn((parts-1)*n/parts, n)
	g.join(parts - 1)
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
			j, _, _ := newJob(c[i][:a[i].m*n], a[i], b[i][:a[i].k*n], nil, n, Epilogue{})
			j.run()
		}
	})
}
