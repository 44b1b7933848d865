package server

import (
	"testing"
	"time"
)

// TestReturnsAfter: the batcher waits for returning clients only after a
// batch that finished requests while other admitted images wait, for as
// many requests as it finished, at most 1/16 of the batch or maxWait.
func TestReturnsAfter(t *testing.T) {
	const d = 160 * time.Millisecond
	tests := []struct {
		name    string
		images  []int // images of each request in the batch (one each in it)
		waiting int64 // other images admitted, not in the batch
		maxWait time.Duration
		want    returns
	}{
		{"lone request", []int{1}, 0, time.Second, returns{}},
		{"a burst, nothing behind it", []int{1, 1, 1}, 0, time.Second, returns{}},
		{"small ones beside a large one", []int{1, 1, 64}, 60, time.Second, returns{want: 2, base: 5, window: d / 16}},
		{"only a large one's turn", []int{64}, 63, time.Second, returns{}},
		{"capped by maxWait", []int{1, 64}, 63, 3 * time.Millisecond, returns{want: 1, base: 5, window: 3 * time.Millisecond}},
		{"never wait", []int{1, 64}, 63, -1, returns{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBatcher(nil, 8, tt.maxWait, 1000)
			b.joined.Store(5)
			b.pending.Store(tt.waiting)
			var batch []*job
			for _, n := range tt.images {
				batch = append(batch, &job{req: newRequest(1, n)})
			}
			if got := b.returnsAfter(batch, d); got != tt.want {
				t.Errorf("returnsAfter = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestAwaitReturnsBounded: clients that do not come back hold the next
// batch for the window only; those that do end the wait at once.
func TestAwaitReturnsBounded(t *testing.T) {
	b := newBatcher(nil, 8, time.Second, 1000)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	start := time.Now()
	b.awaitReturns(timer, returns{want: 1, window: 20 * time.Millisecond})
	if d := time.Since(start); d < 20*time.Millisecond || d > time.Second {
		t.Errorf("nobody came back: waited %v, want the 20ms window", d)
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		b.enqueue(t.Context(), newRequest(1, 1), nil, 1) //nolint:errcheck // not draining
	}()
	start = time.Now()
	b.awaitReturns(timer, returns{want: 1, window: 10 * time.Second})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a client came back after 5ms: waited %v", d)
	}
}
