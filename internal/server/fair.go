package server

import (
	"slices"
	"sync"
	"sync/atomic"
)

// request is one /predict's share of the batcher: its own queue of
// prepared images, so the batcher can take images from requests in turn.
type request struct {
	jobs []*job
	// decode bounds how many of the request's images decode at once, so
	// a large request's images do not fill the decode queue ahead of a
	// small request's.
	decode chan struct{}
	// left counts the request's images not yet answered or abandoned, so
	// the batcher knows which requests a batch finished.
	left atomic.Int64
	// joined is set when the request queues its first image.
	joined atomic.Bool
	// unqueued counts the images not yet queued nor abandoned: while some
	// are still decoding the request keeps its place in the turn.
	unqueued atomic.Int64
	inRing   bool // in fairQueue.ring; guarded by its mu
}

func newRequest(decoders, images int) *request {
	r := &request{decode: make(chan struct{}, decoders)}
	r.left.Store(int64(images))
	r.unqueued.Store(int64(images))
	return r
}

// fairQueue holds the prepared images of every request and hands them out
// round-robin over the requests (one image of each request with images
// waiting, in turn, then again; a new request joins the end of the turn), so one
// request with many images cannot make the others wait behind all of them.
// A request keeps its place in the turn while it has images still
// decoding, so a large request whose decodes trail its turns is not sent
// behind every small request that queued meanwhile.
type fairQueue struct {
	mu    sync.Mutex
	ring  []*request // requests with queued images or images still to queue
	next  int        // index in ring of the request whose turn it is
	n     int        // images queued
	ready chan struct{}
}

func newFairQueue() *fairQueue {
	return &fairQueue{ready: make(chan struct{}, 1)}
}

// push queues j behind the other images of its request.
func (q *fairQueue) push(j *job) {
	q.mu.Lock()
	r := j.req
	if !r.inRing {
		// The end of the turn is just before the request whose turn it
		// is: behind every request in the ring. Appended at the slice's
		// end instead, clients that come back as fast as they are served
		// would keep the turn from ever wrapping to the first requests.
		r.inRing = true
		q.next = min(q.next, len(q.ring))
		q.ring = slices.Insert(q.ring, q.next, r)
		q.next++
	}
	r.unqueued.Add(-1)
	r.jobs = append(r.jobs, j)
	q.n++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop takes the next image in turn; false when none is queued.
func (q *fairQueue) pop() (*job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n > 0 {
		if q.next >= len(q.ring) {
			q.next = 0
		}
		r := q.ring[q.next]
		if len(r.jobs) == 0 { // still decoding: its turn passes
			q.leaveIfDone(r)
			continue
		}
		j := r.jobs[0]
		q.n--
		r.jobs[0] = nil
		r.jobs = r.jobs[1:]
		if len(r.jobs) == 0 {
			r.jobs = nil
			q.leaveIfDone(r)
		} else {
			q.next++
		}
		return j, true
	}
	return nil, false
}

// leaveIfDone takes r, the request at next, out of the ring when it has
// no image left to queue (the next request's turn then), else moves on.
func (q *fairQueue) leaveIfDone(r *request) {
	if r.unqueued.Load() > 0 {
		q.next++
		return
	}
	r.inRing = false
	q.ring = slices.Delete(q.ring, q.next, q.next+1)
}

// len is the number of images queued.
func (q *fairQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
