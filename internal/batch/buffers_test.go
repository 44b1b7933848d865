package batch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadAll(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000) // 10,000 bytes
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       io.Reader
		capHint int
		limit   int64
		want    int // bytes returned
		err     error
	}{
		{"empty", bytes.NewReader(nil), 16, 100, 0, nil},
		{"fits the hint", bytes.NewReader(data), 10512, 1 << 20, 10000, nil},
		{"grows past a small hint", iotest.OneByteReader(bytes.NewReader(data)), 3, 1 << 20, 10000, nil},
		{"no hint", bytes.NewReader(data), 0, 1 << 20, 10000, nil},
		{"exactly the limit", bytes.NewReader(data), 64, 10000, 10000, nil},
		{"over the limit stops at limit+1", bytes.NewReader(data), 64, 999, 1000, nil},
		{"over the limit with room to spare", bytes.NewReader(data), 20000, 999, 1000, nil},
		{"read error", iotest.TimeoutReader(bytes.NewReader(data)), 64, 1 << 20, -1, iotest.ErrTimeout},
		{"error after data", io.MultiReader(bytes.NewReader(data[:10]), iotest.ErrReader(boom)), 64, 1 << 20, 10, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(make([]byte, 5, tt.capHint+5)[5:], tt.r, tt.limit)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if tt.want >= 0 && len(got) != tt.want {
				t.Fatalf("read %d bytes, want %d", len(got), tt.want)
			}
			if !bytes.Equal(got, data[:len(got)]) {
				t.Fatalf("bytes differ from the input")
			}
		})
	}
}

func TestBuffersReuse(t *testing.T) {
	var b buffers
	buf := b.get(1000)
	if len(buf) != 0 || cap(buf) < 1000 {
		t.Fatalf("get(1000): len %d cap %d", len(buf), cap(buf))
	}
	buf = append(buf, "abc"...)
	b.put(buf)
	// A pool may drop what it holds at any GC; when it does hand the
	// buffer back, it must be empty and big enough.
	again := b.get(10)
	if len(again) != 0 || cap(again) < 10 {
		t.Fatalf("get(10) after put: len %d cap %d", len(again), cap(again))
	}
	if big := b.get(1 << 20); cap(big) < 1<<20 {
		t.Fatalf("get(1 MiB): cap %d", cap(big))
	}
}

func TestBudget(t *testing.T) {
	b := newBudget(100)
	ctx := context.Background()
	if n, err := b.acquire(ctx, 60); n != 60 || err != nil {
		t.Fatalf("acquire(60) = %d, %v", n, err)
	}
	// 60 + 60 is over: the second waits until the first is released.
	got := make(chan int64)
	go func() {
		n, _ := b.acquire(ctx, 60)
		got <- n
	}()
	select {
	case <-got:
		t.Fatal("acquired 120 of a 100-byte budget")
	case <-time.After(50 * time.Millisecond):
	}
	b.release(60)
	if n := <-got; n != 60 {
		t.Fatalf("second acquire took %d", n)
	}
	b.release(60)
	// An input larger than the whole budget takes all of it, alone.
	if n, err := b.acquire(ctx, 1000); n != 100 || err != nil {
		t.Fatalf("acquire(1000) = %d, %v; want the whole budget", n, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(cctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire on a full budget after the deadline: %v", err)
	}
	b.release(100)
	if n, err := b.acquire(ctx, 0); n != 1 || err != nil { // unknown size: one byte
		t.Fatalf("acquire(0) = %d, %v", n, err)
	}
}
