package admit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/imageprep"
)

func TestBudgetBoundsConcurrentHolders(t *testing.T) {
	b := New(100)
	var in, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			n := int64(10 + i%5*15) // 10 to 70
			if err := b.Acquire(context.Background(), n); err != nil {
				t.Error(err)
				return
			}
			now := in.Add(n)
			for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			in.Add(-n)
			b.Release(n)
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 100 || p < 70 {
		t.Errorf("peak held %d, want at most the budget (100) and at least one large holder (70)", p)
	}
	if b.Peak() > 100 || b.InUse() != 0 {
		t.Errorf("Peak %d InUse %d", b.Peak(), b.InUse())
	}
}

func TestBudgetTooLargeFailsAtOnce(t *testing.T) {
	b := New(100)
	err := b.Acquire(context.Background(), 101)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Need != 101 || tl.Budget != 100 {
		t.Fatalf("got %v, want *TooLargeError{101, 100}", err)
	}
	if b.InUse() != 0 {
		t.Errorf("InUse %d after a refused request", b.InUse())
	}
}

func TestBudgetFIFONoOvertaking(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	if err := b.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	bigIn := make(chan struct{})
	go func() {
		if err := b.Acquire(ctx, 80); err == nil { // waits: 60 + 80 > 100
			close(bigIn)
		}
	}()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.waiters.Len() == 1 })
	// 30 would fit beside the 60, but the 80 came first: it waits too.
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Acquire(sctx, 30); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("small request overtook the waiting large one: %v", err)
	}
	b.Release(60)
	select {
	case <-bigIn:
	case <-time.After(5 * time.Second):
		t.Fatal("the large request was not admitted after the release")
	}
	if got := b.InUse(); got != 80 {
		t.Errorf("InUse %d, want 80 (the cancelled request gave nothing back twice)", got)
	}
}

func TestBudgetCancelWhileWaiting(t *testing.T) {
	b := New(10)
	ctx := context.Background()
	if err := b.Acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- b.Acquire(cctx, 5) }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.waiters.Len() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	b.Release(10)
	if b.InUse() != 0 {
		t.Errorf("InUse %d: a cancelled waiter kept bytes", b.InUse())
	}
	if err := b.Acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGateTooLargeIsAnImageError(t *testing.T) {
	g := NewGate(New(1<<20), costFunc(func([]byte) (int64, error) { return 2 << 20, nil }))
	_, err := g.Enter(context.Background(), []byte("x"))
	var tl *TooLargeError
	if imageprep.Code(err) != imageprep.CodeTooLarge || !errors.As(err, &tl) {
		t.Fatalf("got %v, want a too_large *imageprep.Error wrapping *TooLargeError", err)
	}
	// A header that cannot be read is admitted at its size; the decoder
	// reports it.
	g = NewGate(New(10), costFunc(func([]byte) (int64, error) { return 0, errors.New("bad header") }))
	release, err := g.Enter(context.Background(), []byte("12345"))
	if err != nil || g.Budget().InUse() != 5 {
		t.Fatalf("err %v, InUse %d: want 5 bytes admitted", err, g.Budget().InUse())
	}
	release()
	if g.Budget().InUse() != 0 {
		t.Errorf("InUse %d after release", g.Budget().InUse())
	}
}

type costFunc func([]byte) (int64, error)

func (f costFunc) DecodeCost(data []byte) (int64, error) { return f(data) }

func TestMemoryLimit(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name  string
		files map[string]string
		want  Limit
	}{
		{"cgroup v2 nested", map[string]string{
			"proc/self/cgroup":                           "0::/kubepods/pod1/ctr\n",
			"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "max\n",
			"sys/fs/cgroup/kubepods/pod1/memory.max":     "4294967296\n",
			"sys/fs/cgroup/kubepods/memory.max":          "8589934592\n",
			"proc/meminfo":                               "MemTotal:       24684084 kB\n",
		}, Limit{4 * gib, "cgroup v2 memory.max"}},
		{"cgroup v2 namespaced root", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "2147483648\n",
		}, Limit{2 * gib, "cgroup v2 memory.max"}},
		{"cgroup v1", map[string]string{
			"proc/self/cgroup": "4:memory:/process_api/84a2\n3:cpuset:/\n0::/\n",
			"sys/fs/cgroup/memory/process_api/84a2/memory.limit_in_bytes": "8589934592\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":                  "9223372036854771712\n",
		}, Limit{8 * gib, "cgroup v1 memory.limit_in_bytes"}},
		{"cgroup v1 unlimited, physical memory", map[string]string{
			"proc/self/cgroup":                           "4:cpuacct,memory:/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
			"proc/meminfo":                               "MemTotal:       10240000 kB\nMemFree: 1 kB\n",
		}, Limit{10240000 << 10, "physical memory"}},
		{"nothing", map[string]string{}, Limit{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, data := range tt.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := memoryLimit(root); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSizeFor(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		want  int64
	}{
		{0, 512 << 20},         // no limit known
		{-1, 512 << 20},        // none either
		{256 << 20, 128 << 20}, // a quarter would be 64 MiB: the floor
		{2 << 30, 512 << 20},   // a quarter
		{10240 << 20, 2560 << 20},
	} {
		if got := SizeFor(Limit{Bytes: tc.limit}); got != tc.want {
			t.Errorf("SizeFor(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}
