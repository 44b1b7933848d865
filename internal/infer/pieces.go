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
// threads (fork-join), or cut into pieces (pieceSize) that T executors run
// single-threaded side by side: the lane itself and T-1 companions (its
// crew), each with its own plans and arena, all sharing the network's
// packed weights, as lanes do. Independent streams use the cores better
// from batch 2 on: no per-layer fork-join, no share waiting for a late
// thread (BENCHMARKS.md, issue 12, "Session 5").
//
// The pieces are handed out from a counter, and every executor holds a
// gemm.Share while it has pieces to run: while k of them run, each Mul
// uses GOMAXPROCS/k threads, so when the others have none left (their
// vCPUs were faster, or their pieces smaller) the last piece widens onto
// every thread from its next layer on, and a vCPU the host slows for a
// while holds the batch up by a part of its piece, not all of it.

// pieceSplit is how many pieces each executor runs of a batch: a piece
// is ceil(n/(w*pieceSplit)) images. One, by measurement: two executors
// running batches of 4 side by side beat ones running batches of 2 or
// single images (BenchmarkImageParallel, ResNet-50 batch 8 on two threads:
// 0.86, 0.93 and 0.97 of the fork-join run's time; BENCHMARKS.md, issue 12,
// "Session 5"), and the hand-out stays dynamic: an executor that finishes
// early leaves the other's piece every thread from its next layer on. A
// variable for BenchmarkImageParallel.
var pieceSplit = 1

// pieceSize is the images per piece of a batch of n on w executors (the
// last piece may be smaller).
func pieceSize(n, w int) int { return ceilDiv(n, w*pieceSplit) }

// pieceMinBatch is the smallest batch, in images per thread, that runs
// image-parallel; smaller batches fork-join every layer. One: on two
// threads image-parallel won from batch 2 on (ResNet-50: 0.78-0.95 of the
// fork-join time at batch 2, BENCHMARKS.md).
const pieceMinBatch = 1

// pieceWorkers returns how many executors run a batch of n image-parallel,
// or 0 for a fork-join run: only a Classifier with one lane runs them (with
// several, the lanes already run sub-batches side by side), on at least two
// threads and for a batch of at least pieceMinBatch images per thread; one
// executor per thread, or per piece where there are fewer pieces.
func (c *Classifier) pieceWorkers(n int) int {
	th := runtime.GOMAXPROCS(0)
	if len(c.lanes) != 1 || th < 2 || n < pieceMinBatch*th || n < 2 {
		return 0
	}
	w := min(th, n)
	return min(w, ceilDiv(n, pieceSize(n, w)))
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
	l, err := c.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer c.release(l)
	crew := l.crewOf(w)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := len(pixels)
	size := pieceSize(n, w)
	rows := make([][]float32, n)
	ran := make([]map[*plan]int, w) // the plans each executor ran, and how often
	var next atomic.Int32
	// Every executor's Share is taken before any starts, so none forks its
	// first layers onto the others' threads.
	dones := make([]func(), w)
	for i := range dones {
		dones[i] = gemm.Share()
	}
	var wg sync.WaitGroup
	for i, e := range crew {
		ran[i] = map[*plan]int{}
		wg.Go(func() {
			defer dones[i]()
			for ctx.Err() == nil {
				lo := int(next.Add(1)-1) * size
				if lo >= n {
					return
				}
				hi := min(lo+size, n)
				p, r, err := c.runOn(ctx, e, pixels[lo:hi])
				if err != nil {
					cancel(err)
					return
				}
				copy(rows[lo:hi], r)
				ran[i][p]++
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if c.profile != nil {
		c.writePieceProfile(ran, n)
	}
	return rows, nil
}

// runOn runs one batch on executor e, which the caller holds, and returns
// the plan it ran too.
func (c *Classifier) runOn(ctx context.Context, e *lane, pixels [][]float32) (*plan, [][]float32, error) {
	p, err := e.plan(c.net, len(pixels), c.profile != nil)
	if err != nil {
		return nil, nil, err
	}
	e.bind(p)
	rows, err := c.execute(ctx, p, pixels)
	return p, rows, err
}

// pieceBatches returns the batch sizes of the pieces of a batch of n on w
// executors: the piece size, and the last piece's when it is smaller.
func pieceBatches(n, w int) []int {
	size := pieceSize(n, w)
	if r := n % size; r != 0 {
		return []int{size, r}
	}
	return []int{size}
}

// writePieceProfile prints one profile for an image-parallel run of n
// images: every op's time summed over the pieces of every executor (CPU
// time, not wall time), so its GFLOP/s are per thread.
func (c *Classifier) writePieceProfile(ran []map[*plan]int, n int) {
	var plans []*plan
	var counts []int
	for _, m := range ran {
		for p, k := range m {
			plans = append(plans, p)
			counts = append(counts, k)
		}
	}
	c.profMu.Lock()
	defer c.profMu.Unlock()
	writeProfiles(c.profile, n, plans, counts)
}
