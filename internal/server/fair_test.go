package server

import (
	"strings"
	"testing"
)

// TestFairQueueTakesRequestsInTurn: one image of each request with images
// waiting, in the order the requests first queued, then again; a request
// with images still to queue keeps its place while it has none queued, and
// one that had queued all its images and comes back (a new request) joins
// the end of the turn.
func TestFairQueueTakesRequestsInTurn(t *testing.T) {
	q := newFairQueue()
	// A has 4 images, B 2 (the second queues late), C 2, D and E 1.
	reqs := map[string]*request{"A": newRequest(1, 4), "B": newRequest(1, 2), "C": newRequest(1, 2),
		"D": newRequest(1, 1), "E": newRequest(1, 1)}
	push := func(names string) {
		for _, n := range strings.Split(names, "") {
			q.push(&job{req: reqs[n], topK: int(n[0])})
		}
	}
	pop := func(k int) string {
		var b strings.Builder
		for range k {
			j, ok := q.pop()
			if !ok {
				b.WriteString("-")
				continue
			}
			b.WriteByte(byte(j.topK))
		}
		return b.String()
	}
	push("AAAABCCD")
	if got := pop(4); got != "ABCD" {
		t.Errorf("first turns %q, want ABCD", got)
	}
	// D left; E joins the end of the turn, after A, B, C have had theirs;
	// B kept its place.
	push("EB")
	if got, n := pop(7), q.len(); got != "ABCEAA-" || n != 0 {
		t.Errorf("then %q with %d left, want ABCEAA- and 0", got, n)
	}
	if len(q.ring) != 0 {
		t.Errorf("ring holds %d requests with nothing to queue", len(q.ring))
	}
}

// TestFairQueueDropsAbandonedRequests: a request whose last images are
// abandoned (failed to decode) while it waits in the ring leaves it.
func TestFairQueueDropsAbandonedRequests(t *testing.T) {
	q := newFairQueue()
	b := newBatcher(nil, 8, 0, 8)
	a, c := newRequest(1, 3), newRequest(1, 1)
	b.admit(4)
	q.push(&job{req: a})
	q.push(&job{req: c})
	q.pop()
	q.pop()
	b.abandon(a)
	b.abandon(a)
	if _, ok := q.pop(); ok || q.len() != 0 {
		t.Fatal("pop found an image in an empty queue")
	}
	x := newRequest(1, 2)
	for range 2 {
		q.push(&job{req: x})
		if _, ok := q.pop(); !ok {
			t.Fatal("no image in turn")
		}
	}
	if len(q.ring) != 0 {
		t.Errorf("ring holds %d requests after the last image, want 0", len(q.ring))
	}
}
