package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/api"
)

// okClassifier answers every image with one prediction-less result.
type okClassifier struct{}

func (okClassifier) Accept() (int, error) { return 0, nil }
func (okClassifier) Classify(_ context.Context, images [][]byte, _ int) ([]api.Result, []error) {
	return make([]api.Result, len(images)), make([]error, len(images))
}

// slowClient opens a connection that declares a body of declared bytes,
// sends one byte and then waits.
func slowClient(t *testing.T, addr string, declared int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\nx", declared)
	return c
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// Bodies grow as bytes arrive: 32 connections that each declare 10 MB and
// send one byte hold a few KiB each, not 10 MB (320 MB before).
func TestSlowBodiesBoundMemory(t *testing.T) {
	var mu sync.Mutex
	reading := 0
	h := New(Options{MaxBodyBytes: 10 << 20}, okClassifier{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reading++
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	addr := strings.TrimPrefix(ts.URL, "http://")
	before := heapInUse()
	const clients = 32
	for range clients {
		slowClient(t, addr, 10<<20)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := reading
		mu.Unlock()
		if n == clients {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests reached the handler", n, clients)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // every handler is blocked reading its body
	grown := int64(heapInUse()) - int64(before)
	// The bound: 32 x (64 KiB first buffer + connection buffers) stays
	// under 16 MiB; allocating the declared length would take 320 MiB.
	if grown > 16<<20 {
		t.Errorf("heap grew %d MiB for %d slow 10 MB bodies", grown>>20, clients)
	}
	t.Logf("heap grew %.1f MiB for %d slow clients declaring 10 MB each", float64(grown)/(1<<20), clients)
}

// At most MaxReading bodies are read at once; the next request gets 503
// overloaded at once instead of another buffer.
func TestMaxReading(t *testing.T) {
	ts := httptest.NewServer(New(Options{MaxReading: 3}, okClassifier{}))
	t.Cleanup(ts.Close)
	addr := strings.TrimPrefix(ts.URL, "http://")
	for range 3 {
		slowClient(t, addr, 1000)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Post(ts.URL+"/predict", "image/jpeg", strings.NewReader("\xff\xd8\xff"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			if !strings.Contains(string(b), `"overloaded"`) || resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 body %s, Retry-After %q", b, resp.Header.Get("Retry-After"))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never refused: %d %s", resp.StatusCode, b)
		}
		time.Sleep(10 * time.Millisecond) // the slow requests are not all reading yet
	}
}

// A client that closes the connection mid-body is recorded as canceled
// (499), not as a bad request.
func TestClientGoneMidBody(t *testing.T) {
	outcomes := make(chan Outcome, 1)
	h := New(Options{Observe: func(_ http.ResponseWriter, _ *http.Request, o Outcome) { outcomes <- o }}, okClassifier{})
	status := make(chan int, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		status <- rec.Code
	}))
	t.Cleanup(ts.Close)
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n0123456789")
	bufio.NewWriter(c).Flush()
	c.Close()
	select {
	case o := <-outcomes:
		if o.Code != "canceled" {
			t.Errorf("code %q, want canceled", o.Code)
		}
		if s := <-status; s != StatusClientClosed {
			t.Errorf("status %d, want %d", s, StatusClientClosed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request never ended")
	}
}
