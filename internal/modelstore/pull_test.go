package modelstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPull(t *testing.T) {
	data, sum := miniModel(t)
	n := len(data)
	half := data[:n/2]
	bigger := append(append([]byte(nil), data...), "trailing junk"...)
	corrupt := append([]byte("garbage"), data[7:n/2]...)

	tests := []pullCase{
		{name: "full download", wantRange: []string{""}},
		{
			name: "resume from .part", part: half,
			wantRange: []string{fmt.Sprintf("bytes=%d-", n/2)},
		},
		{
			name:      "connection dropped mid-way then Range",
			server:    func(s *fileServer) { s.dropAt = n / 3 },
			wantRange: []string{"", fmt.Sprintf("bytes=%d-", n/3)},
		},
		{
			name:   "connection dropped again and again, always progressing",
			server: func(s *fileServer) { s.dropEvery = n/8 + 1 },
			wantRange: []string{"", fmt.Sprintf("bytes=%d-", n/8+1), fmt.Sprintf("bytes=%d-", 2*(n/8+1)),
				fmt.Sprintf("bytes=%d-", 3*(n/8+1)), fmt.Sprintf("bytes=%d-", 4*(n/8+1)), fmt.Sprintf("bytes=%d-", 5*(n/8+1)),
				fmt.Sprintf("bytes=%d-", 6*(n/8+1)), fmt.Sprintf("bytes=%d-", 7*(n/8+1))},
		},
		{
			name:   "server ignores Range",
			server: func(s *fileServer) { s.ignoreRange = true }, part: half,
			wantRange: []string{fmt.Sprintf("bytes=%d-", n/2)},
		},
		{
			name: "complete .part, size unknown: 416", part: data, noSize: true,
			wantRange: []string{fmt.Sprintf("bytes=%d-", n)},
		},
		{
			name: "complete .part, size known: no request", part: data,
			wantRange: nil,
		},
		{
			name: "oversized .part, size unknown: 416 then restart", part: bigger, noSize: true,
			wantRange: []string{fmt.Sprintf("bytes=%d-", len(bigger)), ""},
		},
		{
			name: "oversized .part, size known: restart", part: bigger,
			wantRange: []string{""},
		},
		{
			name: "checksum mismatch", sha: strings.Repeat("0", 64),
			wantRange: []string{""}, wantErr: "sha256 mismatch", wantKind: new(*MismatchError),
		},
		{
			name: "corrupt .part", part: corrupt,
			wantRange: []string{fmt.Sprintf("bytes=%d-", len(corrupt))}, wantErr: "sha256 mismatch", wantKind: new(*MismatchError),
		},
		{
			name: "wrong size", size: int64(n) + 1,
			wantRange: []string{""}, wantErr: "size mismatch", wantKind: new(*MismatchError),
		},
		{
			name: "chunked response", server: func(s *fileServer) { s.chunked = true },
			wantRange: []string{""},
		},
		{
			name: "chunked response, too long", size: int64(n) - 1, server: func(s *fileServer) { s.chunked = true },
			wantRange: []string{""}, wantErr: "size mismatch", wantKind: new(*MismatchError),
		},
		{
			name: "chunked response, too short", size: int64(n) + 1, server: func(s *fileServer) { s.chunked = true },
			wantRange: []string{""}, wantErr: "size mismatch", wantKind: new(*MismatchError),
		},
		{
			name: "404", server: func(s *fileServer) { s.status = http.StatusNotFound },
			wantRange: []string{""}, wantErr: "404 Not Found", wantKind: new(*StatusError),
		},
		{
			name: "500", server: func(s *fileServer) { s.status = http.StatusInternalServerError },
			wantRange: []string{""}, wantErr: "500 Internal Server Error", wantKind: new(*StatusError),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, data, sum) })
	}
}

// pullCase is one download of TestPull.
type pullCase struct {
	name      string
	server    func(*fileServer)
	part      []byte // left by an earlier attempt
	size      int64  // 0: expect the file's size
	sha       string // "": expect the file's sha256
	noSize    bool   // do not tell Pull the size
	wantRange []string
	wantErr   string // "" for success
	wantKind  any    // error type to find with errors.As
}

// run pulls data (with sha256 sum) from a test server as tc says and
// checks the outcome.
func (tc pullCase) run(t *testing.T, data []byte, sum string) {
	srv := newFileServer(t, data, tc.server)
	dest := filepath.Join(t.TempDir(), "cache", "model.onnx")
	if tc.part != nil {
		writeFile(t, dest+".part", tc.part)
	}
	o := PullOptions{URL: srv.URL + "/model.onnx", Size: int64(len(data)), SHA256: sum, Dest: dest}
	if tc.size != 0 {
		o.Size = tc.size
	}
	if tc.noSize {
		o.Size = 0
	}
	if tc.sha != "" {
		o.SHA256 = tc.sha
	}
	err := Pull(context.Background(), o)
	if got := srv.requests(); !slices.Equal(got, tc.wantRange) {
		t.Errorf("Range headers = %q, want %q", got, tc.wantRange)
	}
	if tc.wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
		}
		if !errors.As(err, tc.wantKind) {
			t.Errorf("err = %T %v, want a %T", err, err, tc.wantKind)
		}
		if !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("err = %v, want it to name the URL", err)
		}
		mustNotExist(t, dest, dest+".part", dest+".sha256")
		return
	}
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	mustExist(t, dest, data)
	mustNotExist(t, dest+".part")
	if stamp, err := os.ReadFile(dest + ".sha256"); err != nil || !strings.HasPrefix(string(stamp), sum+"  ") {
		t.Errorf("stamp = %q, %v; want the sha256", stamp, err)
	}
}

func TestPullKeepsVerifiedFile(t *testing.T) {
	data, sum := miniModel(t)
	srv := newFileServer(t, data, nil)
	dest := filepath.Join(t.TempDir(), "model.onnx")
	o := PullOptions{URL: srv.URL, Size: int64(len(data)), SHA256: sum, Dest: dest}
	for range 2 {
		if err := Pull(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(srv.requests()); got != 1 {
		t.Errorf("%d requests for two Pulls of a verified file, want 1", got)
	}
	o.Force = true
	if err := Pull(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.requests()); got != 2 {
		t.Errorf("Force: %d requests in all, want 2", got)
	}
	mustExist(t, dest, data)
}

func TestPullCancelKeepsPartForResume(t *testing.T) {
	data, sum := miniModel(t)
	stallAt := len(data) / 2
	srv := newFileServer(t, data, func(s *fileServer) { s.stallAt = stallAt })
	dest := filepath.Join(t.TempDir(), "model.onnx")
	o := PullOptions{URL: srv.URL, Size: int64(len(data)), SHA256: sum, Dest: dest}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-srv.stalled
		time.Sleep(50 * time.Millisecond) // let the client write what it got
		cancel()
	}()
	err := Pull(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "resume") {
		t.Errorf("err = %v, want it to say the download resumes", err)
	}
	mustNotExist(t, dest)
	fi, err := os.Stat(dest + ".part")
	if err != nil {
		t.Fatalf(".part gone after cancel: %v", err)
	}
	if fi.Size() != int64(stallAt) {
		t.Errorf(".part holds %d bytes, want the %d received", fi.Size(), stallAt)
	}

	if err := Pull(context.Background(), o); err != nil {
		t.Fatalf("resume: %v", err)
	}
	want := []string{"", fmt.Sprintf("bytes=%d-", stallAt)}
	if got := srv.requests(); !slices.Equal(got, want) {
		t.Errorf("Range headers = %q, want %q", got, want)
	}
	mustExist(t, dest, data)
}

func TestPullRetriesStalledConnection(t *testing.T) {
	defer func(d time.Duration) { stallTimeout = d }(stallTimeout)
	stallTimeout = 200 * time.Millisecond
	data, sum := miniModel(t)
	srv := newFileServer(t, data, func(s *fileServer) { s.stallAt = 1000 })
	dest := filepath.Join(t.TempDir(), "model.onnx")
	err := Pull(context.Background(), PullOptions{URL: srv.URL, Size: int64(len(data)), SHA256: sum, Dest: dest})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "bytes=1000-"}
	if got := srv.requests(); !slices.Equal(got, want) {
		t.Errorf("Range headers = %q, want %q", got, want)
	}
	mustExist(t, dest, data)
}

func TestPullGivesUpAfterAttempts(t *testing.T) {
	defer func(d time.Duration) { retryBackoff = d }(retryBackoff)
	retryBackoff = time.Millisecond
	// A listener that accepts and closes at once: every attempt fails
	// without progress.
	srv := newFileServer(t, nil, nil)
	srv.Config.Handler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	dest := filepath.Join(t.TempDir(), "model.onnx")
	err := Pull(context.Background(), PullOptions{URL: srv.URL, Dest: dest})
	if err == nil {
		t.Fatal("Pull succeeded against a server that drops every connection")
	}
	mustNotExist(t, dest)
}

func TestPullConcurrent(t *testing.T) {
	data, sum := miniModel(t)
	srv := newFileServer(t, data, nil)
	dest := filepath.Join(t.TempDir(), "model.onnx")
	o := PullOptions{URL: srv.URL, Size: int64(len(data)), SHA256: sum, Dest: dest}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = Pull(context.Background(), o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.requests()); got != 1 {
		t.Errorf("%d downloads for 4 concurrent Pulls, want 1", got)
	}
	mustExist(t, dest, data)
}

func TestPullPlainProgress(t *testing.T) {
	data, sum := miniModel(t)
	srv := newFileServer(t, data, nil)
	dest := filepath.Join(t.TempDir(), "model.onnx")
	var out bytes.Buffer
	err := Pull(context.Background(), PullOptions{URL: srv.URL, Size: int64(len(data)), SHA256: sum, Dest: dest, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) > 5 {
		t.Errorf("%d progress lines on a non-terminal, want a few:\n%s", len(lines), out.String())
	}
	if !strings.HasPrefix(lines[0], "downloading model.onnx (") || !strings.HasPrefix(lines[len(lines)-1], "downloaded model.onnx: ") {
		t.Errorf("progress output:\n%s", out.String())
	}
	if strings.Contains(out.String(), "\r") || strings.Contains(out.String(), "\x1b") {
		t.Errorf("terminal control characters on a non-terminal: %q", out.String())
	}
}

func TestPullArguments(t *testing.T) {
	if err := Pull(context.Background(), PullOptions{URL: "http://127.0.0.1:1/x"}); err == nil {
		t.Error("Pull without Dest succeeded")
	}
	if err := Pull(context.Background(), PullOptions{Dest: filepath.Join(t.TempDir(), "x")}); err == nil {
		t.Error("Pull without URL succeeded")
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in          string
		first, size int64
		ok          bool
	}{
		{"bytes 0-99/100", 0, 100, true},
		{"bytes 50-99/100", 50, 100, true},
		{"bytes 50-99/*", 50, -1, true},
		{"bytes */100", -1, 100, true},
		{"bytes */*", 0, 0, false},
		{"bytes 50-99/60", 0, 0, false},
		{"bytes 99-50/100", 0, 0, false},
		{"bytes -1-5/100", 0, 0, false},
		{"items 0-1/2", 0, 0, false},
		{"bytes 0-1", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			first, size, err := parseContentRange(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (first != tc.first || size != tc.size) {
				t.Errorf("got first=%d size=%d, want %d %d", first, size, tc.first, tc.size)
			}
		})
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes */100", "bytes 5-9/*", "bytes 1-0/1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, size, err := parseContentRange(s)
		if err != nil {
			return
		}
		if first < -1 || size < -1 || (first == -1 && size < 0) || (size >= 0 && first >= size) {
			t.Errorf("%q: first=%d size=%d", s, first, size)
		}
	})
}
