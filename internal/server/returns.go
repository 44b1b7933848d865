package server

import "time"

// returns is what the batcher waits for after a batch: want more requests
// to queue their first image (batcher.joined past base), at most window.
type returns struct {
	want   int64
	base   int64
	window time.Duration
}

// returnsAfter counts the requests that batch finishes (their last image
// is in it) and, when other images are admitted and waiting (queued or
// decoding: a large request's), sets the wait for as many new requests to
// join: the clients answered now sending
// their next. Without it a client answered at the end of one batch decodes
// while the next runs (decodes wait for the engine unless Config.Overlap)
// and joins only the one after, so beside large requests it gets every
// second batch. The window is 1/16 of the batch's duration (at most
// maxWait), so clients that do not come back cost the large requests at
// most about 6% of the engine. Call it before the batch is answered, so
// no return is missed.
func (b *batcher) returnsAfter(batch []*job, d time.Duration) returns {
	finished := 0
	for _, j := range batch {
		if j.req.left.Add(-1) == 0 {
			finished++
		}
	}
	if finished == 0 || b.pending.Load() == 0 || b.maxWait <= 0 {
		return returns{}
	}
	return returns{want: int64(finished), base: b.joined.Load(), window: min(b.maxWait, d/16)}
}

// awaitReturns waits, up to r.window, until r.want requests have queued
// their first image since the batch that set r.
func (b *batcher) awaitReturns(timer *time.Timer, r returns) {
	if r.want <= 0 || r.window <= 0 {
		return
	}
	timer.Reset(r.window)
	defer timer.Stop()
	for b.joined.Load()-r.base < r.want {
		select {
		case <-b.queue.ready:
		case <-timer.C:
			return
		case <-b.quit:
			return
		}
	}
}
