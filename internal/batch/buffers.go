package batch

import (
	"context"
	"io"
	"sync"

	"golang.org/x/sync/semaphore"
)

// buffers recycles the byte slices inputs are read into. A 12 MP photo is
// 3-5 MB: read with io.ReadAll each one left twice its size of garbage
// (the doubling growth) and a fresh slice per image, which the collector's
// slack turned into about 100 MB more peak RSS than 768x576 photos.
type buffers struct{ pool sync.Pool }

// get returns an empty slice with room for at least n bytes.
func (b *buffers) get(n int64) []byte {
	if p, ok := b.pool.Get().(*[]byte); ok && int64(cap(*p)) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

// put hands buf back once nothing refers to it any more.
func (b *buffers) put(buf []byte) {
	if cap(buf) > 0 {
		buf = buf[:0]
		b.pool.Put(&buf)
	}
}

// readAll reads r into buf (grown as needed) until EOF or until it holds
// more than limit bytes, and returns what it read: at most limit+1 bytes,
// so a caller sees that the input is over the limit.
func readAll(buf []byte, r io.Reader, limit int64) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
		room := buf[len(buf):cap(buf)]
		if over := int64(len(buf)) + int64(len(room)) - (limit + 1); over > 0 {
			room = room[:int64(len(room))-over]
		}
		n, err := r.Read(room)
		buf = buf[:len(buf)+n]
		switch {
		case int64(len(buf)) > limit:
			return buf, nil
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, err
		}
	}
}

// budget bounds the bytes of inputs that are read and not yet prepared.
type budget struct {
	sem   *semaphore.Weighted
	limit int64
}

func newBudget(limit int64) *budget {
	return &budget{sem: semaphore.NewWeighted(limit), limit: limit}
}

// acquire waits until n more bytes fit, and returns what it took: an input
// larger than the whole budget takes all of it, so it runs alone rather
// than never.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(max(n, 1), b.limit)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return 0, err
	}
	return n, nil
}

// release gives back what acquire took.
func (b *budget) release(n int64) {
	if n > 0 {
		b.sem.Release(n)
	}
}
