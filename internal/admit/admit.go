// Package admit bounds the memory of image decodes: each decode is admitted
// against a Budget of bytes, weighted by what it will hold (its decoded
// pixels, estimated from the header before anything is decoded), rather
// than against a count of cores. serve, batch and the Lambda share it.
package admit

import (
	"container/list"
	"context"
	"fmt"
	"sync"
)

// TooLargeError is a request for more bytes than the whole budget: it can
// never be admitted, so Acquire fails at once instead of waiting.
type TooLargeError struct {
	Need, Budget int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("decoding it needs about %s, more than the whole decode budget of %s (MLSERVE_DECODE_BUDGET)",
		Bytes(e.Need), Bytes(e.Budget))
}

// Budget is a weighted semaphore over bytes, first come first served: a
// large request that waits is not overtaken by small ones, so it cannot
// starve. The zero value is not usable; use New.
type Budget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	peak    int64
	waiters list.List // of *waiter, in arrival order
}

type waiter struct {
	n     int64
	ready chan struct{} // closed once admitted
}

// New returns a budget of size bytes (at least 1).
func New(size int64) *Budget {
	return &Budget{size: max(size, 1)}
}

// Size is the budget in bytes.
func (b *Budget) Size() int64 { return b.size }

// InUse is the number of bytes admitted and not yet released.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Peak is the most bytes ever admitted at once.
func (b *Budget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Acquire waits until n bytes fit, or ctx ends (its error is returned). A
// request for more than the whole budget fails at once with a
// *TooLargeError. n below 1 is taken as 1. Every successful Acquire is
// paired with one Release(n).
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	n = max(n, 1)
	if n > b.size {
		return &TooLargeError{Need: n, Budget: b.size}
	}
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.size {
		b.take(n)
		b.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	el := b.waiters.PushBack(w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Admitted while ctx ended: give the bytes back.
			b.used -= n
		default:
			b.waiters.Remove(el)
		}
		b.wake()
		b.mu.Unlock()
		return ctx.Err()
	}
}

// Release returns n bytes taken by Acquire(n).
func (b *Budget) Release(n int64) {
	n = max(n, 1)
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.mu.Unlock()
		panic("admit: released more than acquired")
	}
	b.wake()
	b.mu.Unlock()
}

// take admits n bytes; b.mu is held.
func (b *Budget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// wake admits waiters in order while the first one fits; b.mu is held.
func (b *Budget) wake() {
	for {
		el := b.waiters.Front()
		if el == nil {
			return
		}
		w := el.Value.(*waiter)
		if b.used+w.n > b.size {
			return
		}
		b.take(w.n)
		b.waiters.Remove(el)
		close(w.ready)
	}
}

// Bytes formats n as a size in KiB, MiB or GiB.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
