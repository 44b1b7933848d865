package lambdaadapter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// fakeClassifier tells JPEG and PNG apart by their magic bytes and fails
// everything else the way the engine does.
type fakeClassifier struct {
	mu    sync.Mutex
	calls [][]byte
	topK  []int
}

var (
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
)

func (f *fakeClassifier) Classify(_ context.Context, images [][]byte, topK int) []infer.Result {
	f.mu.Lock()
	f.calls = append(f.calls, images...)
	f.topK = append(f.topK, topK)
	f.mu.Unlock()
	out := make([]infer.Result, len(images))
	for i, img := range images {
		var format string
		switch {
		case len(img) == 0:
			out[i] = errResult(imageprep.CodeEmpty, "zero bytes")
			continue
		case string(img) == "ENGINE-FAILS":
			out[i] = errResult(infer.CodeInternal, "engine exploded")
			continue
		case bytes.HasPrefix(img, []byte("BM")):
			out[i] = errResult(imageprep.CodeUnsupported, "bmp is not decoded")
			continue
		case bytes.HasPrefix(img, jpegMagic):
			format = "jpeg"
		case bytes.HasPrefix(img, pngMagic):
			format = "png"
		default:
			out[i] = errResult(imageprep.CodeNotImage, "no known image signature")
			continue
		}
		r := infer.Result{Model: "fake", Image: &infer.ImageInfo{Width: 1, Height: 1, Format: format}}
		for k := range topK {
			r.Predictions = append(r.Predictions, infer.Prediction{Rank: k + 1, ClassID: k, Label: fmt.Sprintf("class %d", k), Probability: 1 / float64(k+2)})
		}
		out[i] = r
	}
	return out
}

func (f *fakeClassifier) lastCall() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return nil
	}
	return f.calls[len(f.calls)-1]
}

func errResult(code, msg string) infer.Result {
	return infer.Result{Model: "fake", Error: &infer.ErrorInfo{Code: code, Message: msg}}
}

// memStore is an in-memory ObjectStore.
type memStore struct {
	mu       sync.Mutex
	objects  map[string][]byte
	writeErr error
}

func newMemStore() *memStore { return &memStore{objects: map[string][]byte{}} }

func (m *memStore) ReadURL(_ context.Context, uri string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[uri]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", uri, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memStore) WriteURL(_ context.Context, uri string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.writeErr != nil {
		return m.writeErr
	}
	m.objects[uri] = bytes.Clone(data)
	return nil
}

func (m *memStore) get(uri string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[uri]
	return b, ok
}

// fixturesDir returns ../shared/fixtures relative to the repository root.
func fixturesDir(t testing.TB) string { return testsupport.Fixtures(t) }

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	return testsupport.ReadFixture(t, rel)
}

// loadEvent reads testdata/events/name as a generic JSON object.
func loadEvent(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// httpEvent fills a recorded gateway event with a body.
func httpEvent(t testing.TB, name string, body []byte, b64 bool, contentType string) json.RawMessage {
	return httpEventEdit(t, name, body, b64, contentType, nil)
}

// httpEventEdit is httpEvent with edit applied to the event before the
// body goes in (the body is spliced into the JSON: big bodies stay fast).
func httpEventEdit(t testing.TB, name string, body []byte, b64 bool, contentType string, edit func(map[string]any)) json.RawMessage {
	t.Helper()
	ev := loadEvent(t, name)
	ev["body"] = "@@BODY@@"
	ev["isBase64Encoded"] = b64
	setHeader(ev, "content-type", contentType)
	if edit != nil {
		edit(ev)
	}
	s := string(body) // as a gateway passes binary as text: invalid UTF-8 becomes U+FFFD
	if b64 {
		s = base64.StdEncoding.EncodeToString(body)
	}
	return bytes.Replace(mustJSON(t, ev), []byte(`"@@BODY@@"`), mustJSON(t, s), 1)
}

// setHeader sets (or with v == "" deletes) a header in headers and
// multiValueHeaders, whatever the case of its recorded name.
func setHeader(ev map[string]any, name, v string) {
	for _, field := range []string{"headers", "multiValueHeaders"} {
		hs, ok := ev[field].(map[string]any)
		if !ok {
			continue
		}
		for k := range hs {
			if equalFold(k, name) {
				delete(hs, k)
			}
		}
		if v == "" {
			continue
		}
		if field == "headers" {
			hs[name] = v
		} else {
			hs[name] = []any{v}
		}
	}
}

func equalFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testLogger logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

var errBoom = errors.New("boom")
