package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
	"github.com/mlserve/mlserve/internal/s3io"
	"github.com/mlserve/mlserve/internal/testsupport/s3server"
)

var streamPrep = imageprep.Config{ResizeShorter: 8, Crop: 8}

// streamingClassifier decodes for real and streams JPEGs, counting the
// inputs it streamed and the decodes it admitted.
type streamingClassifier struct {
	decodingClassifier
	streamed, whole, admitted atomic.Int64
}

func (s *streamingClassifier) Prepare(data []byte) (*infer.Input, error) {
	s.whole.Add(1)
	return s.decodingClassifier.Prepare(data)
}

func (s *streamingClassifier) PrepareReader(r io.Reader, enter func(int64) (func(), error)) (*infer.Input, error) {
	s.streamed.Add(1)
	in := &infer.Input{Pixels: make([]float32, 3*8*8)}
	info, err := imageprep.PrepareReader(r, streamPrep, in.Pixels, func(n int64) (func(), error) {
		s.admitted.Add(1)
		return enter(n)
	})
	in.Image = info
	return in, err
}

// breakingStore's bodies fail after cut bytes, the first fails opens of
// each key; it counts the bodies not closed.
type breakingStore struct {
	s3io.Store
	cut, fails int
	delay      time.Duration // before each open: the store's time to first byte
	mu         sync.Mutex
	opens      map[string]int
	open       atomic.Int64
}

type breakingBody struct {
	io.Reader
	c      io.Closer
	s      *breakingStore
	closed bool
}

func (b *breakingBody) Close() error {
	if !b.closed {
		b.closed = true
		b.s.open.Add(-1)
	}
	return b.c.Close()
}

func (f *breakingStore) Open(ctx context.Context, key string) (io.ReadCloser, s3io.Object, error) {
	time.Sleep(f.delay)
	rc, obj, err := f.Store.Open(ctx, key)
	if err != nil {
		return rc, obj, err
	}
	f.mu.Lock()
	f.opens[key]++
	fail := f.opens[key] <= f.fails
	f.mu.Unlock()
	f.open.Add(1)
	var r io.Reader = rc
	if fail {
		r = io.MultiReader(io.LimitReader(rc, int64(f.cut)), iotestErr{})
	}
	return &breakingBody{Reader: r, c: rc, s: f}, obj, nil
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// TestRunStreams: inputs over StreamBytes are decoded as they are read,
// with the codes, records and retries of the whole path: every input ends
// with one record, a body failing mid-decode is retried and then
// read_failed (not corrupt), and every body is closed.
func TestRunStreams(t *testing.T) {
	defer func(d time.Duration) { retryBackoff = d }(retryBackoff)
	retryBackoff = time.Millisecond
	photo := jpegtest.Photo(400, 300, 7)
	jpg := jpegtest.Cjpeg(t, photo, "-quality", "95")
	prog := jpegtest.Cjpeg(t, photo, "-progressive", "-restart", "1")
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, photo); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"a.jpg":      jpg,
		"b.jpg":      prog,
		"c.png":      pngBuf.Bytes(),
		"cut.jpg":    jpg[:len(jpg)*2/3],
		"bad.jpg":    append(bytes.Clone(jpg[:200]), bytes.Repeat([]byte{0xFF, 0xC4, 0, 3, 0x77}, 2000)...),
		"text.jpg":   bytes.Repeat([]byte("not an image "), 1000),
		"small.jpg":  jpegtest.Cjpeg(t, jpegtest.Photo(16, 16, 1), "-quality", "50"),
		"sub/d.jpeg": prog,
		"sub/e.jpg":  jpg,
		"sub/f.jpg":  jpg,
		"sub/g.jpg":  jpg,
		"sub/h.jpg":  jpg,
		"sub/i.jpg":  jpg,
	}
	// What the whole path says of each, the reference for the codes.
	want := map[string]string{}
	for k, data := range files {
		if _, err := (&decodingClassifier{}).Prepare(data); err != nil {
			want[k] = imageprep.Code(err)
		}
	}
	want["text.jpg"] = imageprep.CodeNotImage
	srv := s3server.Start(t)
	srv.Setenv(t)
	bucket := srv.NewBucket(t)
	for _, tc := range []struct {
		fails int
		root  string
	}{{0, "mem://stream"}, {2, "mem://stream"}, {5, "mem://stream"}, {0, "s3://" + bucket}, {5, "s3://" + bucket}} {
		fails := tc.fails
		t.Run(fmt.Sprintf("%s %d failing reads", strings.SplitN(tc.root, ":", 2)[0], fails), func(t *testing.T) {
			n := memN.Add(1)
			in, out := fmt.Sprintf("%s/%d/in/", tc.root, n), fmt.Sprintf("%s/%d/out/", tc.root, n)
			s, err := s3io.Open(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range files {
				if err := s.Put(context.Background(), k, bytes.NewReader(v), int64(len(v))); err != nil {
					t.Fatal(err)
				}
			}
			store := &breakingStore{Store: s, cut: 3000, fails: fails, opens: map[string]int{}}
			cfg := testConfig(t, in, out)
			cfg.StreamBytes = 1000
			cfg.OpenStore = func(ctx context.Context, url string) (s3io.Store, error) {
				if url == in {
					return store, nil
				}
				return s3io.Open(ctx, url)
			}
			c := &streamingClassifier{}
			if _, err := Run(context.Background(), c, cfg); err != nil {
				t.Fatal(err)
			}
			results, failures := shardRecords(t, out, 1)
			if got := len(results) + len(failures); got != len(files) {
				t.Errorf("%d records for %d inputs", got, len(files))
			}
			for k := range files {
				uri := in + k
				f, failed := failures[uri]
				_, ok := results[uri]
				wantCode := want[k]
				if fails > 2 && k != "bad.jpg" {
					// Every body fails after 3000 bytes: bad.jpg is corrupt
					// before that, the rest cannot be read (small.jpg and
					// the whole reads see the error after the data).
					wantCode = CodeReadFailed
				}
				switch {
				case wantCode == "" && (!ok || failed):
					t.Errorf("%s: no result (failure %+v)", k, f)
				case wantCode == CodeReadFailed && (!failed || f.Code != wantCode || f.Attempt != readAttempts):
					t.Errorf("%s: %+v, want %s after %d attempts", k, f, wantCode, readAttempts)
				case wantCode != "" && (!failed || f.Code != wantCode):
					t.Errorf("%s: failure %+v, want code %s", k, f, wantCode)
				}
			}
			if c.streamed.Load() == 0 || c.admitted.Load() == 0 {
				t.Errorf("streamed %d, admitted %d: nothing was streamed", c.streamed.Load(), c.admitted.Load())
			}
			if n := store.open.Load(); n != 0 {
				t.Errorf("%d bodies left open", n)
			}
		})
	}
}

// TestStreamOpenedAhead: a streamed input's body is opened by the
// fetchers, so one preparer does not wait out the store's time to first
// byte once per input (S3's is tens of milliseconds, a 12 MP decode's
// about 20). Six inputs behind a 300 ms open take about 300 ms, not 1.8 s.
func TestStreamOpenedAhead(t *testing.T) {
	jpg := jpegtest.Cjpeg(t, jpegtest.Photo(400, 300, 7), "-quality", "95")
	in, out := fmt.Sprintf("mem://ahead/%d/in/", memN.Add(1)), fmt.Sprintf("mem://ahead/%d/out/", memN.Add(1))
	s, err := s3io.Open(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	const inputs, delay = 6, 300 * time.Millisecond
	for i := range inputs {
		if err := s.Put(context.Background(), fmt.Sprintf("%d.jpg", i), bytes.NewReader(jpg), int64(len(jpg))); err != nil {
			t.Fatal(err)
		}
	}
	store := &breakingStore{Store: s, delay: delay, opens: map[string]int{}}
	cfg := testConfig(t, in, out)
	cfg.StreamBytes, cfg.Preparers, cfg.Fetchers = 1000, 1, inputs
	cfg.OpenStore = func(ctx context.Context, url string) (s3io.Store, error) {
		if url == in {
			return store, nil
		}
		return s3io.Open(ctx, url)
	}
	c := &streamingClassifier{}
	start := time.Now()
	if _, err := Run(context.Background(), c, cfg); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if results, failures := shardRecords(t, out, 1); len(results) != inputs || len(failures) != 0 {
		t.Fatalf("%d results, %d failures for %d inputs", len(results), len(failures), inputs)
	}
	if c.streamed.Load() != inputs {
		t.Errorf("%d of %d inputs streamed", c.streamed.Load(), inputs)
	}
	if took > inputs*delay*2/3 {
		t.Errorf("%v for %d inputs behind a %v open: the preparer waited for each open", took, inputs, delay)
	}
	for k, n := range store.opens {
		if n != 1 {
			t.Errorf("%s opened %d times", k, n)
		}
	}
	if n := store.open.Load(); n != 0 {
		t.Errorf("%d bodies left open", n)
	}
}
