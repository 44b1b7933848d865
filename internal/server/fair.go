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
}

func newRequest(decoders, images int) *request {
	r := &request{decode: make(chan struct{}, decoders)}
	r.left.Store(int64(images))
	return r
}

// fairQueue holds the prepared images of every request and hands them out
// round-robin over the requests (one image of each request with images
// waiting, in the order the requests first queued, then again), so one
// request with many images cannot make the others wait behind all of them.
type fairQueue struct {
	mu    sync.Mutex
	ring  []*request // requests with queued images
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
	if len(r.jobs) == 0 {
		q.ring = append(q.ring, r)
	}
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
	if len(q.ring) == 0 {
		return nil, false
	}
	if q.next >= len(q.ring) {
		q.next = 0
	}
	r := q.ring[q.next]
	j := r.jobs[0]
	q.n--
	r.jobs[0] = nil
	r.jobs = r.jobs[1:]
	if len(r.jobs) == 0 {
		r.jobs = nil
		q.ring = slices.Delete(q.ring, q.next, q.next+1) // the next request's turn now
	} else {
		q.next++
	}
	return j, true
}

// len is the number of images queued.
func (q *fairQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
