package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/testsupport"
)

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReadiness(t *testing.T) {
	ts := listen(t, Config{})
	img := pngImage(t, 16, 16)
	if r := do(t, "GET", ts.url+"/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz while loading: %d", r.status)
	}
	for _, path := range []string{"/readyz", "/v1/models"} {
		if r := do(t, "GET", ts.url+path, "", nil); r.status != 503 || r.errorInfo(t).Code != api.CodeNotReady {
			t.Fatalf("%s while loading: %d %s", path, r.status, r.body)
		}
	}
	if r := do(t, "POST", ts.url+"/predict", "image/png", img); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("predict while loading: %d %s", r.status, r.body)
	}

	fake := newFake()
	release := make(chan struct{})
	loaded := make(chan error, 1)
	go func() {
		loaded <- ts.Load(context.Background(), func(context.Context) (Engine, error) {
			<-release // the model takes its time
			return fake, nil
		})
	}()
	if r := do(t, "GET", ts.url+"/readyz", "", nil); r.status != 503 {
		t.Fatalf("readyz during load: %d", r.status)
	}
	close(release)
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	select {
	case <-fake.warmed:
	default:
		t.Fatal("ready without a warm-up")
	}
	if r := do(t, "GET", ts.url+"/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz after warm-up: %d", r.status)
	}
	r := do(t, "GET", ts.url+"/v1/models", "", nil)
	var ml modelList
	if err := json.Unmarshal(r.body, &ml); err != nil || r.status != 200 || len(ml.Models) != 1 || ml.Models[0].Name != "fake" || ml.Models[0].InputSize != fakeCrop {
		t.Fatalf("models: %d %s", r.status, r.body)
	}
	if err := ts.Load(context.Background(), func(context.Context) (Engine, error) { return fake, nil }); err == nil {
		t.Error("second Load succeeded")
	}
}

func TestLoadFailure(t *testing.T) {
	ts := listen(t, Config{})
	err := ts.Load(context.Background(), func(context.Context) (Engine, error) { return nil, errEngine })
	if err == nil || !strings.Contains(err.Error(), "exploded") {
		t.Fatalf("Load: %v", err)
	}
	if r := do(t, "GET", ts.url+"/readyz", "", nil); r.status != 503 {
		t.Fatalf("readyz: %d", r.status)
	}
}

// TestDrain shuts the server down with a request in flight: /readyz turns
// 503 at once, the request completes, Shutdown returns nil.
func TestDrain(t *testing.T) {
	fake := newFake()
	fake.hold = make(chan struct{})
	fake.running = make(chan struct{}, 1)
	ts := start(t, Config{ShutdownDelay: 300 * time.Millisecond}, fake)
	img := pngImage(t, 16, 16)

	inflight := make(chan response, 1)
	go func() {
		r, err := send("POST", ts.url+"/predict", "image/png", img)
		if err != nil {
			r.status, r.body = -1, []byte(err.Error())
		}
		inflight <- r
	}()
	<-fake.running

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- ts.Shutdown(ctx)
	}()
	waitFor(t, func() bool { return !ts.Ready() })
	if r := do(t, "GET", ts.url+"/readyz", "", nil); r.status != 503 || !strings.Contains(r.errorInfo(t).Message, "draining") {
		t.Fatalf("readyz while draining: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", ts.url+"/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz while draining: %d", r.status)
	}
	time.Sleep(400 * time.Millisecond) // past the delay: no longer accepting
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(fake.hold)
	if r := <-inflight; r.status != 200 {
		t.Fatalf("in-flight request: %d %s", r.status, r.body)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := http.Get(ts.url + "/healthz"); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// TestDrainGraceExpires: a request that outlives the grace period is cut
// off and Shutdown reports it.
func TestDrainGraceExpires(t *testing.T) {
	fake := newFake()
	fake.hold = make(chan struct{})
	fake.running = make(chan struct{}, 1)
	ts := start(t, Config{}, fake)
	img := pngImage(t, 8, 8)
	go sendStatus(ts.url+"/predict", "image/png", img)
	<-fake.running
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown succeeded with a stuck request")
	}
}

func TestRequestID(t *testing.T) {
	ts := start(t, Config{}, newFake())
	r := do(t, "GET", ts.url+"/healthz", "", nil, "X-Request-Id", "abc-123")
	if got := r.header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("echoed id %q", got)
	}
	r1 := do(t, "GET", ts.url+"/healthz", "", nil)
	r2 := do(t, "POST", ts.url+"/predict", "text/plain", nil, "X-Request-Id", "bad id with spaces")
	id1, id2 := r1.header.Get("X-Request-Id"), r2.header.Get("X-Request-Id")
	if len(id1) != 24 || len(id2) != 24 || id1 == id2 {
		t.Errorf("generated ids %q %q", id1, id2)
	}
}

func TestAccessLog(t *testing.T) {
	var buf testsupport.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	ts := start(t, Config{Logger: log}, newFake())
	do(t, "POST", ts.url+"/predict", "image/png", pngImage(t, 8, 8), "X-Request-Id", "req-1")
	do(t, "POST", ts.url+"/predict", "text/plain", nil, "X-Request-Id", "req-2")
	do(t, "GET", ts.url+"/healthz", "", nil, "X-Request-Id", "probe") // debug level: not logged
	lines := map[string]map[string]any{}
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			lines[m["request_id"].(string)] = m
		}
	}
	if m := lines["req-1"]; m == nil || m["status"] != 200.0 || m["images"] != 1.0 || m["path"] != "/predict" {
		t.Errorf("req-1: %v", m)
	}
	if m := lines["req-2"]; m == nil || m["status"] != 415.0 || m["error"] != api.CodeUnsupportedMedia {
		t.Errorf("req-2: %v", m)
	}
	if _, ok := lines["probe"]; ok {
		t.Error("probe logged at info level")
	}
}

// One request may not take the whole queue: past Config.MaxImages (16 by
// default, with a queue of 64) it gets 413 too_many_images.
func TestPerRequestImageLimit(t *testing.T) {
	ts := start(t, Config{}, newFake())
	img := base64.StdEncoding.EncodeToString(pngImage(t, 8, 8))
	list := func(n int) []byte {
		imgs := make([]string, n)
		for i := range imgs {
			imgs[i] = img
		}
		return jsonBodyOf(t, map[string][]string{"images": imgs})
	}
	if r := do(t, "POST", ts.url+"/predict", "application/json", list(16)); r.status != 200 || len(r.results(t)) != 16 {
		t.Fatalf("16 images: %d %s", r.status, r.body)
	}
	r := do(t, "POST", ts.url+"/predict", "application/json", list(17))
	if e := r.errorInfo(t); r.status != 413 || e.Code != api.CodeTooManyImages || !strings.Contains(e.Message, "16") {
		t.Fatalf("17 images: %d %s", r.status, r.body)
	}
}
