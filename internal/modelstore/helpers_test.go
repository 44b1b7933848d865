package modelstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// fixture reads a file from the shared fixtures (../shared/fixtures next to
// the repository root).
func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	return testsupport.ReadFixture(t, rel)
}

// miniModel is a real ONNX file small enough to download in every test.
func miniModel(t testing.TB) (data []byte, sum string) {
	data = fixture(t, "models/mini-v1-opset11.onnx")
	s := sha256.Sum256(data)
	return data, hex.EncodeToString(s[:])
}

// fileServer serves data on 127.0.0.1 and records the Range header of
// every request ("" for none).
type fileServer struct {
	*httptest.Server
	data []byte

	mu     sync.Mutex
	ranges []string

	status      int  // answer every request with this status
	ignoreRange bool // answer 200 with the whole file even to a Range request
	chunked     bool // answer 200 with the whole file and no Content-Length
	dropAt      int  // > 0: the first request dies after this many bytes
	dropEvery   int  // > 0: every request dies after this many bytes of body
	stallAt     int  // > 0: the first request goes silent after this many bytes
	// stalled is closed when a stalling request has sent its bytes.
	stalled chan struct{}
}

func newFileServer(t *testing.T, data []byte, configure func(*fileServer)) *fileServer {
	t.Helper()
	s := &fileServer{data: data, stalled: make(chan struct{})}
	if configure != nil {
		configure(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *fileServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

func (s *fileServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	first := len(s.ranges) == 1
	s.mu.Unlock()
	switch {
	case s.status != 0:
		http.Error(w, http.StatusText(s.status), s.status)
	case first && s.dropAt > 0:
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
		w.Write(s.data[:s.dropAt])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // closes the connection mid-body
	case first && s.stallAt > 0:
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
		w.Write(s.data[:s.stallAt])
		w.(http.Flusher).Flush()
		close(s.stalled)
		<-r.Context().Done()
	case s.dropEvery > 0:
		start := 0
		if r := r.Header.Get("Range"); r != "" {
			fmt.Sscanf(r, "bytes=%d-", &start)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(s.data)-1, len(s.data)))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)-start))
		end := min(start+s.dropEvery, len(s.data))
		if start > 0 {
			w.WriteHeader(http.StatusPartialContent)
		}
		w.Write(s.data[start:end])
		if end == len(s.data) {
			return
		}
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case s.chunked:
		w.Write(s.data[:len(s.data)/2])
		w.(http.Flusher).Flush()
		w.Write(s.data[len(s.data)/2:])
	case s.ignoreRange:
		w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
		w.Write(s.data)
	default:
		http.ServeContent(w, r, "model.onnx", time.Time{}, bytes.NewReader(s.data))
	}
}

// noServer fails the test if any request reaches it.
func noServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
	}))
	t.Cleanup(s.Close)
	return s
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustExist(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read result: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, differs from the %d bytes served", p, len(got), len(want))
	}
}

func mustNotExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists, want it gone", p)
		}
	}
}
