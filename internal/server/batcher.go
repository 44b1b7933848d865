package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/httpapi"
	"github.com/mlserve/mlserve/internal/infer"
)

// runFunc is the engine call the batcher makes: Engine.Run.
type runFunc func(ctx context.Context, inputs []*infer.Input, topK int) ([]infer.Result, error)

// batcher groups the prepared inputs of concurrent requests into engine
// batches. Requests are admitted image by image against a bounded queue
// before they decode (so memory stays bounded), prepare on their own
// goroutine, then wait here; one loop runs one engine batch at a time.
//
// Images are taken from requests in turn (fairQueue), so a request with
// many images shares the engine with the small ones instead of making
// them wait behind all of its images.
//
// A batch starts as soon as the engine is free and something is queued. It
// waits (up to maxWait) for more images only while admitted images are
// still being decoded, so a lone request never waits and a burst fills
// the batch. After a batch that answered some requests while others still
// have images to go, it waits briefly for the clients just answered to
// send their next request (awaitReturns), so they do not lose every
// second batch to the large requests.
type batcher struct {
	run     runFunc
	max     int
	maxWait time.Duration
	limit   int64 // queue: images admitted and not yet in a batch

	queue     *fairQueue
	pending   atomic.Int64  // admitted, not yet taken into a batch
	preparing atomic.Int64  // admitted, not yet queued (decoding)
	joined    atomic.Int64  // requests that have queued their first image
	kick      chan struct{} // a preparing image gave up: stop waiting for it
	quit      chan struct{}
	done      chan struct{}
	ctx       context.Context // parent of every engine run
	cancel    context.CancelFunc

	// observe is told about every engine batch: size and duration.
	observe func(size int, d time.Duration)
	// onQueue is told how long each image waited for its batch.
	onQueue func(d time.Duration)
	// hold takes the engine for one batch and returns its release (the
	// server's CPU lock, unless Config.Overlap; default: nothing to take).
	hold func() (release func())
}

type job struct {
	ctx  context.Context
	req  *request
	in   *infer.Input
	topK int
	enq  time.Time
	done chan jobResult // buffered: the loop never blocks on a gone request
}

type jobResult struct {
	res api.Result
	err error
}

func newBatcher(run runFunc, maxBatch int, maxWait time.Duration, queue int) *batcher {
	ctx, cancel := context.WithCancel(context.Background())
	b := &batcher{
		run:     run,
		max:     maxBatch,
		maxWait: maxWait,
		limit:   int64(queue),
		queue:   newFairQueue(),
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		observe: func(int, time.Duration) {},
		onQueue: func(time.Duration) {},
		hold:    func() func() { return func() {} },
	}
	return b
}

func (b *batcher) start() { go b.loop() }

// full reports whether no image can be admitted now.
func (b *batcher) full() bool { return b.pending.Load() >= b.limit }

// depth is the number of images admitted and not yet in a batch.
func (b *batcher) depth() int64 { return b.pending.Load() }

// admit reserves queue room for n images; false means overloaded. Each
// admitted image must end in exactly one do or abandon call.
func (b *batcher) admit(n int) bool {
	if b.pending.Add(int64(n)) > b.limit {
		b.pending.Add(-int64(n))
		return false
	}
	b.preparing.Add(int64(n))
	return true
}

// abandon releases an admitted image that will not be queued (it failed
// to decode, or its request gave up).
func (b *batcher) abandon(req *request) {
	req.left.Add(-1)
	req.unqueued.Add(-1)
	b.pending.Add(-1)
	if b.preparing.Add(-1) == 0 {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// enqueue queues an admitted, prepared input of request req; its result
// comes from wait. ErrDraining when the batcher stops (the caller then
// abandons the image).
func (b *batcher) enqueue(ctx context.Context, req *request, in *infer.Input, topK int) (*job, error) {
	select {
	case <-b.quit:
		return nil, httpapi.ErrDraining
	default:
	}
	j := &job{ctx: ctx, req: req, in: in, topK: topK, enq: time.Now(), done: make(chan jobResult, 1)}
	if req.joined.CompareAndSwap(false, true) {
		b.joined.Add(1) // before the push wakes the loop
	}
	b.queue.push(j)
	b.preparing.Add(-1)
	return j, nil
}

// wait waits for the result of a queued job.
func (b *batcher) wait(ctx context.Context, j *job) (api.Result, error) {
	select {
	case r := <-j.done:
		return r.res, r.err
	case <-ctx.Done():
		// The loop drops the job when it takes it (or answers into the
		// buffered channel if it already runs).
		return api.Result{}, ctx.Err()
	}
}

// stop ends the loop after the running batch; images still queued fail
// with httpapi.ErrDraining. hard also cancels the running batch.
func (b *batcher) stop(hard bool) {
	select {
	case <-b.quit:
	default:
		close(b.quit)
	}
	if hard {
		b.cancel()
	}
	<-b.done
	b.cancel()
}

func (b *batcher) loop() {
	defer close(b.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := make([]*job, 0, b.max)
	var back returns
	for {
		if !b.waitQueued() {
			b.drain()
			return
		}
		b.awaitReturns(timer, back)
		b.gather(timer)
		// The batch is taken once the engine is ours: decodes that were
		// running (they hold the CPU shared unless Config.Overlap) have
		// queued their images by then, so they join this batch in turn
		// instead of waiting behind the next one.
		release := b.hold()
		batch = b.takeTurns(batch[:0])
		back = returns{}
		if len(batch) > 0 {
			back = b.runBatch(batch)
		}
		release()
		clear(batch)
	}
}

// waitQueued waits until an image is queued; false when the batcher stops.
func (b *batcher) waitQueued() bool {
	for {
		select {
		case <-b.quit:
			return false
		default:
		}
		if b.queue.len() > 0 {
			return true
		}
		select {
		case <-b.queue.ready:
		case <-b.quit:
			return false
		}
	}
}

// gather waits, while fewer than a batch of images is queued and admitted
// images are still being prepared, for them to join, at most maxWait.
func (b *batcher) gather(timer *time.Timer) {
	armed := false
	defer func() {
		if armed {
			timer.Stop()
		}
	}()
	for b.queue.len() < b.max {
		if b.maxWait <= 0 || b.preparing.Load() == 0 {
			return
		}
		if !armed {
			timer.Reset(b.maxWait)
			armed = true
		}
		select {
		case <-b.queue.ready:
		case <-b.kick:
		case <-timer.C:
			armed = false
			return
		case <-b.quit:
			return
		}
	}
}

// takeTurns fills batch with queued images, one request's at a time.
func (b *batcher) takeTurns(batch []*job) []*job {
	for len(batch) < b.max {
		j, ok := b.queue.pop()
		if !ok {
			break
		}
		batch = b.take(batch, j)
	}
	return batch
}

// take moves j from the queue into batch, or answers it at once when its
// request has already given up.
func (b *batcher) take(batch []*job, j *job) []*job {
	b.pending.Add(-1)
	if err := j.ctx.Err(); err != nil {
		j.req.left.Add(-1)
		j.done <- jobResult{err: err}
		return batch
	}
	return append(batch, j)
}

func (b *batcher) drain() {
	for {
		j, ok := b.queue.pop()
		if !ok {
			return
		}
		b.pending.Add(-1)
		j.req.left.Add(-1)
		j.done <- jobResult{err: httpapi.ErrDraining}
	}
}

// runBatch runs batch on the engine, answers its images and returns the
// wait for the requests it finished to come back (see awaitReturns).
func (b *batcher) runBatch(batch []*job) returns {
	start := time.Now()
	inputs := make([]*infer.Input, len(batch))
	topK := 0
	for i, j := range batch {
		inputs[i] = j.in
		topK = max(topK, j.topK)
		b.onQueue(start.Sub(j.enq))
	}
	// The engine run is cancelled only when every request in it has gone.
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	var left atomic.Int64
	left.Store(int64(len(batch)))
	for _, j := range batch {
		stop := context.AfterFunc(j.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	results, err := b.safeRun(ctx, inputs, topK)
	d := time.Since(start)
	b.observe(len(batch), d)
	if err == nil && len(results) != len(batch) {
		err = fmt.Errorf("engine returned %d results for %d inputs", len(results), len(batch))
	}
	back := b.returnsAfter(batch, d) // before any answer, so no return is missed
	for i, j := range batch {
		if err != nil {
			j.done <- jobResult{err: err}
			continue
		}
		r := api.FromEngine(results[i])
		if len(r.Predictions) > j.topK {
			r.Predictions = r.Predictions[:j.topK:j.topK]
		}
		if r.TimingsMs == nil {
			r.TimingsMs = &api.Timings{Timings: infer.Timings{
				Decode:     ms(j.in.Image.DecodeTime),
				Preprocess: ms(j.in.Image.PreprocessTime),
				Inference:  ms(d),
			}}
		}
		r.TimingsMs.Queue = ms(start.Sub(j.enq))
		r.TimingsMs.BatchSize = len(batch)
		j.done <- jobResult{res: r}
	}
	return back
}

// safeRun calls the engine and turns a panic (a bug, never user input)
// into an error, so one bad batch does not take the server down.
func (b *batcher) safeRun(ctx context.Context, inputs []*infer.Input, topK int) (res []infer.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("engine panic: %v", p)
		}
	}()
	return b.run(ctx, inputs, topK)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
