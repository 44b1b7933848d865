package infer

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/mlserve/mlserve/internal/gemm"
)

// Image-parallel runs. With one lane, a batch of n images on T threads
// runs either as one plan of batch n whose every layer forks onto the T
// threads (fork-join), or cut into pieces of pieceImages images that T
// executors run single-threaded side by side: the lane itself and T-1
// companions (its crew), each with its own plans and arena, all sharing
// the network's packed weights, as lanes do. Independent streams use the
// cores better at batch 8: no per-layer fork-join, no share waiting for a
// late thread, and a single-threaded GEMM reaches a higher share of the
// core's peak (BENCHMARKS.md, issue 12, "Session 5").
//
// The pieces are handed out one at a time from a counter, so a vCPU the
// host slows for a while runs fewer of them instead of holding the batch
// up by half of it. Every executor holds a gemm.Share while it has pieces
// to run: while k of them run, each Mul uses GOMAXPROCS/k threads, so when
// the others have none left the last piece widens onto every thread from
// its next layer on.

// pieceImages is the size of one piece: single images measured as fast
// per image on one thread as batches of 4 and 8, with the finest hand-out
// and the smallest arenas.
const pieceImages = 1

// pieceMinBatch is the smallest batch, in images per thread, that runs
// image-parallel; smaller batches fork-join every layer.
const pieceMinBatch = 1

// pieceWorkers returns how many executors run a batch of n image-parallel
// on the lane l, or 0 for a fork-join run: only a Classifier with one lane
// runs them (with several, the lanes already run sub-batches side by side),
// on at least two threads and for a batch of at least pieceMinBatch images
// per thread.
func (c *Classifier) pieceWorkers(n int) int {
	th := runtime.GOMAXPROCS(0)
	if len(c.lanes) != 1 || th < 2 || n < pieceMinBatch*th || n < 2 {
		return 0
	}
	return min(th, ceilDiv(n, pieceImages))
}

// crewOf returns w executors for an image-parallel run: l and w-1
// companions, made on first use and kept. Only the holder of l calls it.
func (l *lane) crewOf(w int) []*lane {
	for len(l.crew) < w-1 {
		l.crew = append(l.crew, &lane{plans: map[int]*plan{}})
	}
	return append([]*lane{l}, l.crew[:w-1]...)
}

// runPieces runs one batch image-parallel on w executors and returns the
// rows in input order. The first error (or the end of ctx) stops every
// executor after its current layer.
func (c *Classifier) runPieces(ctx context.Context, pixels [][]float32, w int) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := c.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer c.release(l)
	crew := l.crewOf(w)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := len(pixels)
	rows := make([][]float32, n)
	runs := make([]int, w)
	var next atomic.Int32
	// Every executor's Share is taken before any starts, so none forks its
	// first layers onto the others' threads.
	dones := make([]func(), w)
	for i := range dones {
		dones[i] = gemm.Share()
	}
	var wg sync.WaitGroup
	for i, e := range crew {
		wg.Go(func() {
			defer dones[i]()
			for ctx.Err() == nil {
				lo := int(next.Add(1)-1) * pieceImages
				if lo >= n {
					return
				}
				hi := min(lo+pieceImages, n)
				r, err := c.runOn(ctx, e, pixels[lo:hi])
				if err != nil {
					cancel(err)
					return
				}
				copy(rows[lo:hi], r)
				runs[i]++
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if c.profile != nil {
		c.writePieceProfile(crew, runs, n)
	}
	return rows, nil
}

// runOn runs one batch on executor e, which the caller holds.
func (c *Classifier) runOn(ctx context.Context, e *lane, pixels [][]float32) ([][]float32, error) {
	p, err := e.plan(c.net, len(pixels), c.profile != nil)
	if err != nil {
		return nil, err
	}
	e.bind(p)
	return c.execute(ctx, p, pixels)
}

// writePieceProfile prints one profile for an image-parallel run of n
// images: every op's time summed over the pieces of every executor (CPU
// time, not wall time), so its GFLOP/s are per thread.
func (c *Classifier) writePieceProfile(crew []*lane, runs []int, n int) {
	var plans []*plan
	var counts []int
	for i, e := range crew {
		if runs[i] > 0 {
			plans = append(plans, e.plans[pieceImages])
			counts = append(counts, runs[i])
		}
	}
	c.profMu.Lock()
	defer c.profMu.Unlock()
	writeProfiles(c.profile, n, plans, counts)
}
