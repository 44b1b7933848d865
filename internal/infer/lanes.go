package infer

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/mlserve/mlserve/internal/gemm"
)

// Lanes. A Classifier runs the network on lanes: each lane is one executor,
// with its own compiled plans and activation arena, and all of them share
// the network's packed weights. With one lane (the default) every run uses
// all the cores and runs are serialized: a lone image forks every layer
// onto the threads, a batch of at least one image per thread runs
// image-parallel on the lane and its crew (pieces.go). With Options.Lanes = N, a batch of
// several images is cut into up to N sub-batches that run at once, one per
// lane; while k lanes run, each uses GOMAXPROCS/k threads (gemm.Share), so
// two lanes on two cores run single-threaded side by side instead of
// forking every layer onto both cores. That wins where throughput counts
// (batch mode): per-layer fork-joins cost little at batch 1 but a
// single-threaded GEMM reaches a higher share of the core's peak, and it
// never waits for a late worker (BENCHMARKS.md, "lanes vs threads").

// lane is one executor: the plans of the batch sizes it has run, and the
// arena they run in. Only the goroutine holding the lane (from
// Classifier.free) touches it.
type lane struct {
	plans map[int]*plan
	arena []float32
	crew  []*lane // companions for image-parallel runs (pieces.go)
}

// newLanes makes n lanes (at least one) and the channel that hands them out.
func newLanes(n int) ([]*lane, chan *lane) {
	n = max(n, 1)
	lanes := make([]*lane, n)
	free := make(chan *lane, n)
	for i := range lanes {
		lanes[i] = &lane{plans: map[int]*plan{}}
		free <- lanes[i]
	}
	return lanes, free
}

// plan returns the lane's compiled graph for batch size n, compiling it on
// first use.
func (l *lane) plan(net *network, n int, prof bool) (*plan, error) {
	if p, ok := l.plans[n]; ok {
		return p, nil
	}
	p, err := newPlan(net, n, prof)
	if err != nil {
		return nil, err
	}
	l.plans[n] = p
	return p, nil
}

// bind sizes the lane's arena for p and binds p to it.
func (l *lane) bind(p *plan) {
	if len(l.arena) < p.arena {
		l.arena = newArena(p.arena)
	}
	p.bind(l.arena)
}

// acquire waits for a free lane, or fails at once when ctx has ended;
// release gives it back.
func (c *Classifier) acquire(ctx context.Context) (*lane, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case l := <-c.free:
		return l, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Classifier) release(l *lane) { c.free <- l }

// laneBatch is the largest sub-batch a lane runs for a batch of n.
func (c *Classifier) laneBatch(n int) int { return ceilDiv(n, min(len(c.lanes), max(n, 1))) }

// runLanes runs one batch (at most MaxBatch) cut into up to len(c.lanes)
// contiguous sub-batches at once, and returns the rows in input order.
func (c *Classifier) runLanes(ctx context.Context, pixels [][]float32) ([][]float32, error) {
	parts := min(len(c.lanes), len(pixels))
	if w := c.pieceWorkers(len(pixels)); w > 1 {
		return c.runPieces(ctx, pixels, w)
	}
	if parts <= 1 {
		return c.runBatch(ctx, pixels)
	}
	rows := make([][]float32, len(pixels))
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*len(pixels)/parts, (i+1)*len(pixels)/parts
		wg.Go(func() {
			r, err := c.runBatch(ctx, pixels[lo:hi])
			copy(rows[lo:hi], r)
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// runBatch runs one batch on a free lane.
func (c *Classifier) runBatch(ctx context.Context, pixels [][]float32) ([][]float32, error) {
	l, err := c.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer c.release(l)
	done := gemm.Share()
	defer done()
	p, rows, err := c.runOn(ctx, l, pixels)
	if err == nil && c.profile != nil {
		c.profMu.Lock()
		p.writeProfile(c.profile)
		c.profMu.Unlock()
	}
	return rows, err
}

// warmLanes compiles the plans that batches of 1 to largest images run on
// every lane (and on its crew, for the batches that run image-parallel),
// and sizes the arenas for them. It holds all the lanes meanwhile.
func (c *Classifier) warmLanes(ctx context.Context, largest int) error {
	held := make([]*lane, 0, len(c.lanes))
	defer func() {
		for _, l := range held {
			c.release(l)
		}
	}()
	for range c.lanes {
		l, err := c.acquire(ctx)
		if err != nil {
			return err
		}
		held = append(held, l)
	}
	var sizes []int                   // the batches the lane runs whole
	pieces, crew := map[int]bool{}, 0 // the pieces' batches, and executors
	for n := 1; n <= largest; n++ {
		w := c.pieceWorkers(n)
		if w < 2 {
			sizes = append(sizes, n)
			continue
		}
		crew = max(crew, w)
		for _, b := range pieceBatches(n, w) {
			pieces[b] = true
		}
	}
	for _, l := range held {
		if err := c.warm(l, sizes); err != nil {
			return err
		}
		for _, e := range l.crewOf(max(crew, 1)) {
			if err := c.warm(e, slices.Sorted(maps.Keys(pieces))); err != nil {
				return err
			}
		}
	}
	return nil
}

// warm compiles executor e's plans of the given batch sizes and sizes its
// arena for the largest.
func (c *Classifier) warm(e *lane, sizes []int) error {
	need := 0
	for _, n := range sizes {
		p, err := e.plan(c.net, n, c.profile != nil)
		if err != nil {
			return err
		}
		need = max(need, p.arena)
	}
	if len(e.arena) < need {
		e.arena = newArena(need)
	}
	return nil
}
