package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/infer"
)

// testServer is a Server listening on a real socket on 127.0.0.1.
type testServer struct {
	*Server
	url string
}

func listen(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx) //nolint:errcheck // a test that shut down already
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{Server: s, url: "http://" + ln.Addr().String()}
}

// start is listen plus Load of eng.
func start(t testing.TB, cfg Config, eng Engine) *testServer {
	t.Helper()
	ts := listen(t, cfg)
	if err := ts.Load(context.Background(), func(context.Context) (Engine, error) { return eng, nil }); err != nil {
		t.Fatal(err)
	}
	return ts
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) result(t testing.TB) api.Result {
	t.Helper()
	var res api.Result
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return res
}

func (r response) results(t testing.TB) []api.Result {
	t.Helper()
	var res []api.Result
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return res
}

func (r response) errorInfo(t testing.TB) api.ErrorInfo {
	t.Helper()
	var e api.ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an error body (%v): %s", err, r.body)
	}
	return e.Error
}

func do(t testing.TB, method, url, contentType string, body []byte, hdr ...string) response {
	t.Helper()
	r, err := send(method, url, contentType, body, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is do for other goroutines: it returns the error.
func send(method, url, contentType string, body []byte, hdr ...string) (response, error) {
	return sendWith(http.DefaultClient, method, url, contentType, body, hdr...)
}

// sendWith is send through client.
func sendWith(client *http.Client, method, url, contentType string, body []byte, hdr ...string) (response, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// sendStatus is send reduced to the status, -1 for a transport error.
func sendStatus(url, contentType string, body []byte) int {
	r, err := send("POST", url, contentType, body)
	if err != nil {
		return -1
	}
	return r.status
}

type part struct {
	field, filename, contentType string
	data                         []byte
}

func multipartBody(t testing.TB, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.field)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func jsonBodyOf(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPredictContentTypes(t *testing.T) {
	ts := start(t, Config{}, newFake())
	jpg := jpegImage(t, 64, 48)
	pngData := pngImage(t, 40, 30)
	gif := readFixture(t, "images/palette-256x256.gif")
	b64 := base64.StdEncoding.EncodeToString
	mpOne, mpOneBody := multipartBody(t, part{"file", "dog.jpg", "image/jpeg", jpg})
	mpTwo, mpTwoBody := multipartBody(t, part{"a", "dog.jpg", "", jpg}, part{"note", "", "", []byte("hello")}, part{"b", "x.png", "application/octet-stream", pngData})
	mpNoName, mpNoNameBody := multipartBody(t, part{"img", "", "image/png", pngData})
	tests := []struct {
		name        string
		contentType string
		body        []byte
		formats     []string // one: a single Result; several: a list
		list        bool
	}{
		{"jpeg", "image/jpeg", jpg, []string{"jpeg"}, false},
		{"png", "image/png", pngData, []string{"png"}, false},
		{"gif", "image/gif", gif, []string{"gif"}, false},
		{"octet-stream", "application/octet-stream", jpg, []string{"jpeg"}, false},
		{"application/jpeg (the sample's clients)", "application/jpeg", jpg, []string{"jpeg"}, false},
		{"no content type", "", pngData, []string{"png"}, false},
		{"curl --data-binary default (form urlencoded)", "application/x-www-form-urlencoded", jpg, []string{"jpeg"}, false},
		{"header lies: png sent as image/jpeg", "image/jpeg", pngData, []string{"png"}, false},
		{"image/* with parameters", "image/png; charset=binary", pngData, []string{"png"}, false},
		{"multipart one file", mpOne, mpOneBody, []string{"jpeg"}, false},
		{"multipart two files and a text field", mpTwo, mpTwoBody, []string{"jpeg", "png"}, true},
		{"multipart part without file name", mpNoName, mpNoNameBody, []string{"png"}, false},
		{"json image", "application/json", jsonBodyOf(t, map[string]string{"image": b64(jpg)}), []string{"jpeg"}, false},
		{"json image, charset", "application/json; charset=utf-8", jsonBodyOf(t, map[string]string{"image": b64(pngData)}), []string{"png"}, false},
		{"json image, data URL", "application/json", jsonBodyOf(t, map[string]string{"image": "data:image/png;base64," + b64(pngData)}), []string{"png"}, false},
		{"json image, url-safe unpadded", "application/json", jsonBodyOf(t, map[string]string{"image": base64.RawURLEncoding.EncodeToString(jpg)}), []string{"jpeg"}, false},
		{"json images of one", "application/json", jsonBodyOf(t, map[string][]string{"images": {b64(pngData)}}), []string{"png"}, true},
		{"json images", "application/json", jsonBodyOf(t, map[string][]string{"images": {b64(jpg), b64(pngData), b64(gif)}}), []string{"jpeg", "png", "gif"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/predict", "/v1/predict"} {
				r := do(t, "POST", ts.url+path, tt.contentType, tt.body)
				if r.status != http.StatusOK {
					t.Fatalf("%s: status %d: %s", path, r.status, r.body)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				var got []api.Result
				if tt.list {
					got = r.results(t)
				} else {
					got = []api.Result{r.result(t)}
				}
				if len(got) != len(tt.formats) {
					t.Fatalf("%d results, want %d", len(got), len(tt.formats))
				}
				for i, res := range got {
					if res.Error != nil {
						t.Fatalf("result %d: error %+v", i, res.Error)
					}
					if res.Image == nil || res.Image.Format != tt.formats[i] {
						t.Errorf("result %d: image %+v, want format %s", i, res.Image, tt.formats[i])
					}
					if len(res.Predictions) != 5 {
						t.Errorf("result %d: %d predictions, want the default 5", i, len(res.Predictions))
					}
					if res.TimingsMs == nil || res.TimingsMs.BatchSize < 1 {
						t.Errorf("result %d: timings %+v", i, res.TimingsMs)
					}
				}
			}
		})
	}
}

func TestTopK(t *testing.T) {
	ts := start(t, Config{TopK: 3}, newFake())
	img := pngImage(t, 16, 16)
	tests := []struct {
		query  string
		status int
		want   int
	}{
		{"", 200, 3}, // Config.TopK
		{"?top_k=1", 200, 1},
		{"?top_k=7", 200, 7},
		{"?top_k=1000", 200, 10}, // the fake has 10 classes
		{"?top_k=0", 400, 0},
		{"?top_k=1001", 400, 0},
		{"?top_k=-3", 400, 0},
		{"?top_k=abc", 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := do(t, "POST", ts.url+"/predict"+tt.query, "image/png", img)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status != 200 {
				if e := r.errorInfo(t); e.Code != api.CodeBadRequest || !strings.Contains(e.Message, "top_k") {
					t.Errorf("error %+v", e)
				}
				return
			}
			if n := len(r.result(t).Predictions); n != tt.want {
				t.Errorf("%d predictions, want %d", n, tt.want)
			}
		})
	}
}

func TestPredictErrors(t *testing.T) {
	fake := newFake()
	fake.maxPixels = 1000
	ts := start(t, Config{MaxBodyBytes: 4096, Queue: 4, MaxPixels: 1000}, fake)
	small := pngImage(t, 20, 20)
	big := pngImage(t, 40, 40) // 1600 pixels > 1000
	noBoundary := "multipart/form-data"
	mpText, mpTextBody := multipartBody(t, part{"note", "", "", []byte("hi")})
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		status      int
		code        string
		message     string // a substring of the message
	}{
		{"empty body", "POST", "/predict", "image/jpeg", nil, 400, "empty", ""},
		{"not an image", "POST", "/predict", "application/octet-stream", []byte("hello, world"), 400, "not_an_image", ""},
		{"truncated png", "POST", "/predict", "image/png", small[:len(small)/2], 400, "truncated", ""},
		{"unsupported format (ico)", "POST", "/predict", "image/x-icon", []byte("\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00\x01\x00 \x00h\x04\x00\x00\x16\x00\x00\x00"), 415, "unsupported_format", "ico"},
		{"too many pixels", "POST", "/predict", "image/png", big, 413, "too_large", "1000 pixels"},
		{"body too large", "POST", "/predict", "application/octet-stream", make([]byte, 5000), 413, api.CodeBodyTooLarge, "4096 bytes"},
		{"body too large json", "POST", "/predict", "application/json", []byte(`{"image":"` + strings.Repeat("A", 5000) + `"}`), 413, api.CodeBodyTooLarge, "4096 bytes"},
		{"unsupported content type", "POST", "/predict", "text/plain", small, 415, api.CodeUnsupportedMedia, "text/plain"},
		{"form urlencoded form", "POST", "/predict", "application/x-www-form-urlencoded", []byte("a=b&c=d"), 415, api.CodeUnsupportedMedia, "form"},
		{"bad content type", "POST", "/predict", "image/png; =", small, 415, api.CodeUnsupportedMedia, ""},
		{"bad json", "POST", "/predict", "application/json", []byte(`{"image":`), 400, api.CodeBadRequest, "json"},
		{"json trailing data", "POST", "/predict", "application/json", []byte(`{"image":"AA=="} {}`), 400, api.CodeBadRequest, "after"},
		{"json both", "POST", "/predict", "application/json", jsonBodyOf(t, map[string]any{"image": b64(small), "images": []string{b64(small)}}), 400, api.CodeBadRequest, "give one of"},
		{"json neither", "POST", "/predict", "application/json", []byte(`{}`), 400, api.CodeNoImage, ""},
		{"json empty images", "POST", "/predict", "application/json", []byte(`{"images":[]}`), 400, api.CodeNoImage, ""},
		{"json bad base64", "POST", "/predict", "application/json", []byte(`{"image":"***"}`), 400, api.CodeBadRequest, "base64"},
		{"json too many images", "POST", "/predict", "application/json", []byte(`{"images":["AA","AA","AA","AA","AA"]}`), 413, api.CodeTooManyImages, "4"},
		{"multipart without boundary", "POST", "/predict", noBoundary, []byte("x"), 400, api.CodeBadRequest, "boundary"},
		{"multipart without file", "POST", "/predict", mpText, mpTextBody, 400, api.CodeNoImage, ""},
		{"multipart broken", "POST", "/predict", "multipart/form-data; boundary=xyz", []byte("--xyz\r\nbroken"), 400, api.CodeBadRequest, "multipart"},
		{"wrong method", "GET", "/predict", "", nil, 405, api.CodeMethodNotAllowed, "POST"},
		{"unknown path", "GET", "/nope", "", nil, 404, api.CodeNotFound, "/nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, ts.url+tt.path, tt.contentType, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			e := r.errorInfo(t)
			if e.Code != tt.code {
				t.Errorf("code %q, want %q (%s)", e.Code, tt.code, e.Message)
			}
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q does not mention %q", e.Message, tt.message)
			}
		})
	}
	// The server survives all of it.
	if r := do(t, "POST", ts.url+"/predict", "image/png", small); r.status != 200 {
		t.Fatalf("after errors: %d %s", r.status, r.body)
	}
}

func TestMultiImagePerItemErrors(t *testing.T) {
	ts := start(t, Config{}, newFake())
	good := pngImage(t, 16, 16)
	ct, body := multipartBody(t,
		part{"a", "a.png", "", good},
		part{"b", "b.txt", "", []byte("not an image")},
		part{"c", "c.png", "", nil},
		part{"d", "d.png", "", good})
	r := do(t, "POST", ts.url+"/predict?top_k=2", ct, body)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	res := r.results(t)
	wantCodes := []string{"", "not_an_image", "empty", ""}
	if len(res) != len(wantCodes) {
		t.Fatalf("%d results: %s", len(res), r.body)
	}
	for i, want := range wantCodes {
		switch {
		case want == "" && (res[i].Error != nil || len(res[i].Predictions) != 2):
			t.Errorf("item %d: %+v", i, res[i])
		case want != "" && (res[i].Error == nil || res[i].Error.Code != want || res[i].Predictions != nil):
			t.Errorf("item %d: %+v, want error %s", i, res[i], want)
		}
	}
}

func TestServerErrors(t *testing.T) {
	img := pngImage(t, 16, 16)
	t.Run("engine failure is 500", func(t *testing.T) {
		fake := newFake()
		fake.err = errEngine
		ts := start(t, Config{}, fake)
		r := do(t, "POST", ts.url+"/predict", "image/png", img)
		if e := r.errorInfo(t); r.status != 500 || e.Code != infer.CodeInternal || !strings.Contains(e.Message, "exploded") {
			t.Fatalf("%d %+v", r.status, e)
		}
	})
	t.Run("deadline is 504", func(t *testing.T) {
		fake := newFake()
		fake.hold = make(chan struct{})
		defer close(fake.hold)
		ts := start(t, Config{Timeout: 100 * time.Millisecond}, fake)
		r := do(t, "POST", ts.url+"/predict", "image/png", img)
		if e := r.errorInfo(t); r.status != 504 || e.Code != api.CodeDeadline {
			t.Fatalf("%d %+v", r.status, e)
		}
	})
	t.Run("full queue is 503 with Retry-After", func(t *testing.T) {
		fake := newFake()
		fake.hold = make(chan struct{})
		fake.running = make(chan struct{}, 10)
		ts := start(t, Config{MaxBatch: 1, Queue: 1, BatchWait: -1}, fake)
		var wg sync.WaitGroup
		statuses := make(chan int, 2)
		// One image runs (held), one waits in the queue: the queue is full.
		wg.Go(func() { statuses <- sendStatus(ts.url+"/predict", "image/png", img) })
		<-fake.running
		wg.Go(func() { statuses <- sendStatus(ts.url+"/predict", "image/png", img) })
		waitFor(t, func() bool { return ts.model.Load().batch.depth() == 1 })
		r := do(t, "POST", ts.url+"/predict", "image/png", img)
		if e := r.errorInfo(t); r.status != 503 || e.Code != api.CodeOverloaded || r.header.Get("Retry-After") == "" {
			t.Fatalf("%d %+v %v", r.status, e, r.header)
		}
		close(fake.hold)
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != 200 {
				t.Errorf("admitted request: %d", s)
			}
		}
	})
	t.Run("multi-image request over the free queue is 503", func(t *testing.T) {
		fake := newFake()
		ts := start(t, Config{Queue: 2}, fake)
		ct, body := multipartBody(t, part{"a", "a", "", img}, part{"b", "b", "", img})
		if r := do(t, "POST", ts.url+"/predict", ct, body); r.status != 200 {
			t.Fatalf("two images with queue 2: %d %s", r.status, r.body)
		}
		ts.model.Load().batch.admit(1) // someone else holds one slot
		r := do(t, "POST", ts.url+"/predict", ct, body)
		if e := r.errorInfo(t); r.status != 503 || e.Code != api.CodeOverloaded {
			t.Fatalf("%d %+v", r.status, e)
		}
	})
}
