package server

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metricValue returns the value of the sample line that starts with
// name{labels} in the Prometheus text exposition, or -1.
func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	fake := newFake()
	fake.delay = 20 * time.Millisecond
	ts := start(t, Config{}, fake)
	img := pngImage(t, 16, 16)
	for range 3 {
		do(t, "POST", ts.url+"/predict", "image/png", img)
	}
	do(t, "POST", ts.url+"/v1/predict", "text/plain", img)
	do(t, "POST", ts.url+"/predict", "image/png", []byte("junk"))
	ct, body := multipartBody(t, part{"a", "a", "", img}, part{"b", "b", "", img})
	do(t, "POST", ts.url+"/predict", ct, body)
	do(t, "GET", ts.url+"/nope", "", nil)

	r := do(t, "GET", ts.url+"/metrics", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	text := string(r.body)
	for _, tt := range []struct {
		series string
		want   float64 // -2: any value present
	}{
		{`mlserve_http_requests_total{code="200",handler="/predict"}`, 4},
		{`mlserve_http_requests_total{code="415",handler="/v1/predict"}`, 1},
		{`mlserve_http_requests_total{code="400",handler="/predict"}`, 1},
		{`mlserve_http_requests_total{code="404",handler="other"}`, 1},
		{`mlserve_http_request_duration_seconds_count{handler="/predict"}`, 5},
		{`mlserve_stage_duration_seconds_count{stage="queue"}`, 5},
		{`mlserve_stage_duration_seconds_count{stage="decode"}`, 5},
		{`mlserve_stage_duration_seconds_count{stage="preprocess"}`, 5},
		{`mlserve_stage_duration_seconds_count{stage="inference"}`, 5},
		{`mlserve_batch_size_sum`, 5},
		{`mlserve_images_total{result="ok"}`, 5},
		{`mlserve_images_total{result="not_an_image"}`, 1},
		{`mlserve_http_in_flight_requests`, 1}, // this scrape
		{`mlserve_queue_images`, 0},
		{`mlserve_ready`, 1},
		{`mlserve_model_load_seconds`, -2},
		{`go_goroutines`, -2},
	} {
		got := metricValue(t, text, tt.series)
		if got == -1 || (tt.want != -2 && got != tt.want) {
			t.Errorf("%s = %v, want %v", tt.series, got, tt.want)
		}
	}
	// Inference was timed: 20 ms per batch at least.
	if sum := metricValue(t, text, `mlserve_stage_duration_seconds_sum{stage="inference"}`); sum < 5*0.02 {
		t.Errorf("inference seconds %v", sum)
	}
}

// TestOpenAPI checks that /openapi.json is valid JSON naming every route
// the server has, with its methods, and no route it does not have.
func TestOpenAPI(t *testing.T) {
	ts := start(t, Config{}, newFake())
	r := do(t, "GET", ts.url+"/openapi.json", "", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || r.status != 200 || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %d %v", r.status, err)
	}
	routes := map[string]string{
		"/predict": "post", "/v1/predict": "post", "/healthz": "get", "/readyz": "get",
		"/v1/models": "get", "/metrics": "get", "/openapi.json": "get", "/uploads": "post",
	}
	for path, method := range routes {
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("openapi.json lacks %s %s", method, path)
		}
		// And the server really has it.
		status := do(t, strings.ToUpper(method), ts.url+path, "image/png", pngImage(t, 8, 8)).status
		if status == 404 || status == 405 {
			t.Errorf("%s %s: %d", method, path, status)
		}
	}
	for path := range doc.Paths {
		if _, ok := routes[path]; !ok {
			t.Errorf("openapi.json documents %s, which the server lacks", path)
		}
	}
}
