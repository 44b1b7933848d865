package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// TestLoad runs against a real HTTP server on 127.0.0.1 that checks each
// request's body and type: every request is counted once, and a failing
// server fails the run.
func TestLoad(t *testing.T) {
	var n atomic.Int32
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "image/jpeg" || !bytes.Equal(b, []byte("img")) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if fail.Load() {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		n.Add(1)
		w.Write([]byte(`{"predictions":[]}`))
	}))
	defer srv.Close()
	r, err := load(context.Background(), srv.URL, []byte("img"), 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 12 || n.Load() != 12 || r.perSec <= 0 || r.p50 > r.p99 {
		t.Fatalf("result %+v, server saw %d requests", r, n.Load())
	}
	if !regexp.MustCompile(`^clients=3 requests=12 img_per_s=[0-9.]+ p50_ms=\d+ p99_ms=\d+$`).MatchString(r.String()) {
		t.Errorf("line %q", r.String())
	}
	fail.Store(true)
	if _, err := load(context.Background(), srv.URL, []byte("img"), 2, 2); err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Errorf("failing server: %v, want a status 503 error", err)
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-clients", "0"}, &out, &errb); code != 2 {
		t.Errorf("exit %d, want 2 (stderr %q)", code, errb.String())
	}
}
