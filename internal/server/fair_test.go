package server

import (
	"strings"
	"testing"
)

// TestFairQueueTakesRequestsInTurn: one image of each request with images
// waiting, in the order the requests first queued, then again; a request
// that queues again later joins the end of the turn.
func TestFairQueueTakesRequestsInTurn(t *testing.T) {
	q := newFairQueue()
	reqs := map[string]*request{"A": newRequest(1, 4), "B": newRequest(1, 4), "C": newRequest(1, 4)}
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
	push("AAAABCC")
	if got := pop(4); got != "ABCA" {
		t.Errorf("first turns %q, want ABCA", got)
	}
	push("B") // B had none left: it joins the turn after C, before A comes again
	if got, n := pop(5), q.len(); got != "CBAA-" || n != 0 {
		t.Errorf("then %q with %d left, want CBAA- and 0", got, n)
	}
}
