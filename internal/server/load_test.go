package server

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/infer"
)

// recording wraps an Engine and keeps the size of every batch it runs.
type recording struct {
	Engine
	mu    sync.Mutex
	sizes []int
}

func (r *recording) Run(ctx context.Context, inputs []*infer.Input, topK int) ([]infer.Result, error) {
	r.mu.Lock()
	r.sizes = append(r.sizes, len(inputs))
	r.mu.Unlock()
	return r.Engine.Run(ctx, inputs, topK)
}

func (r *recording) batches() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sizes)
}

// loadResult counts the outcomes of a load run.
type loadResult struct {
	status  map[int]int
	errors  []error // transport errors and timeouts
	elapsed time.Duration
	peak    uint64 // peak heap in use, sampled every 2 ms
}

// hammer runs clients goroutines that each POST img perRequest times, one
// request at a time, on their own connection.
func hammer(t *testing.T, url string, img []byte, clients, perClient int) loadResult {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		mu  sync.Mutex
		res = loadResult{status: map[int]int{}}
	)
	stopPeak := heapPeak()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range perClient {
				req, _ := http.NewRequest("POST", url, bytesReader(img))
				req.Header.Set("Content-Type", "image/jpeg")
				resp, err := client.Do(req)
				mu.Lock()
				if err != nil {
					res.errors = append(res.errors, err)
				} else {
					res.status[resp.StatusCode]++
				}
				mu.Unlock()
				if err == nil {
					drain(resp)
				}
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.peak = stopPeak()
	return res
}

// TestLoad drives the mini fixture model with concurrent clients on
// 127.0.0.1: below capacity every request succeeds and batches form; above
// it the overflow gets 503s, never timeouts or crashes, and memory stays
// bounded.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: -short")
	}
	img := readFixture(t, "images/scene-640x427-q90.jpg")
	eng := &recording{Engine: loadModel(t, miniModel)}

	t.Run("below capacity", func(t *testing.T) {
		// A batch wait longer than a decode, so concurrent images meet.
		ts := start(t, Config{MaxBatch: 8, BatchWait: 100 * time.Millisecond, Queue: 64}, eng)
		clients, each := 16, 4
		if raceEnabled {
			clients, each = 8, 2
		}
		res := hammer(t, ts.url+"/predict", img, clients, each)
		t.Logf("%d requests in %v (%.0f/s), peak heap %d MB, status %v",
			clients*each, res.elapsed, float64(clients*each)/res.elapsed.Seconds(), res.peak>>20, res.status)
		if len(res.errors) > 0 || res.status[200] != clients*each {
			t.Fatalf("errors %v, status %v", res.errors, res.status)
		}
		sizes := eng.batches()
		if slices.Max(sizes) < 2 {
			t.Errorf("no batch of more than one image formed: %v", sizes)
		}
		if slices.Max(sizes) > 8 {
			t.Errorf("batch over --max-batch: %v", sizes)
		}
		t.Logf("batch sizes: %v", histogram(sizes))
	})

	t.Run("above capacity", func(t *testing.T) {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ts := start(t, Config{MaxBatch: 4, BatchWait: 2 * time.Millisecond, Queue: 8}, eng)
		clients, each := 64, 4
		if raceEnabled {
			clients, each = 32, 2
		}
		res := hammer(t, ts.url+"/predict", img, clients, each)
		t.Logf("%d requests in %v, peak heap %d MB (before %d MB), status %v",
			clients*each, res.elapsed, res.peak>>20, before.HeapInuse>>20, res.status)
		if len(res.errors) > 0 {
			t.Fatalf("transport errors or timeouts: %v", res.errors[:min(3, len(res.errors))])
		}
		if res.status[200]+res.status[503] != clients*each || res.status[503] == 0 || res.status[200] == 0 {
			t.Fatalf("want only 200s and some 503s, got %v", res.status)
		}
		// Bounded: queue (8) + a running batch (4) + decoders hold at most
		// a few MB each (a decoded 640x427 image and a 224x224x3 tensor);
		// 64 clients unbounded would not fit either. 256 MB leaves room
		// for the race detector's shadow memory and the GC's slack.
		if grow := int64(res.peak) - int64(before.HeapInuse); grow > 256<<20 {
			t.Errorf("heap grew by %d MB under overload", grow>>20)
		}
		// The server still answers and its queue is empty again.
		if r := do(t, "POST", ts.url+"/predict", "image/jpeg", img); r.status != 200 {
			t.Fatalf("after overload: %d %s", r.status, r.body)
		}
		if d := ts.model.Load().batch.depth(); d != 0 {
			t.Errorf("queue depth %d after the load", d)
		}
	})
}

func histogram(sizes []int) string {
	h := map[int]int{}
	for _, s := range sizes {
		h[s]++
	}
	keys := make([]int, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := ""
	for _, k := range keys {
		out += fmt.Sprintf(" %dx%d", k, h[k])
	}
	return out
}
