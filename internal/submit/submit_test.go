package submit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
)

func TestChildren(t *testing.T) {
	for _, tc := range []struct{ n, per, want int }{
		{0, 100, 1}, {1, 100, 1}, {100, 100, 1}, {101, 100, 2}, {1000, 100, 10},
		{10000, 6000, 2}, {10000, 1, MaxChildren}, {5_000_000, 100, MaxChildren}, {7, 0, 1},
	} {
		if got := Children(tc.n, tc.per); got != tc.want {
			t.Errorf("Children(%d, %d) = %d, want %d", tc.n, tc.per, got, tc.want)
		}
	}
}

func TestWindow(t *testing.T) {
	w := Window{InputPrefix: "input/"}
	adds := []struct {
		bucket, raw, owner string
		ok                 bool
	}{
		{"b", "input/my+dog.jpg", "m1", true},
		{"b", "input/my+dog.jpg", "m2", true},   // repeated in another message
		{"b", "input/my%20dog.jpg", "m2", true}, // the same key, encoded otherwise
		{"b", "input/notes.txt", "m3", false},
		{"b", "input/folder/", "m3", false},
		{"b", "other/cat.png", "m3", false},
		{"b", "input/%zz.jpg", "m3", false},
		{"", "input/x.jpg", "m3", false},
		{"b", "input/caf%C3%A9.PNG", "m4", true},
		{"c", "input/my+dog.jpg", "m4", true},
	}
	for _, a := range adds {
		if got := w.AddRecord(a.bucket, a.raw, a.owner); got != a.ok {
			t.Errorf("AddRecord(%q, %q) = %v, want %v", a.bucket, a.raw, got, a.ok)
		}
	}
	g := w.Groups()
	if len(g) != 2 || g[0].Bucket != "b" || g[1].Bucket != "c" {
		t.Fatalf("groups %+v", g)
	}
	if strings.Join(g[0].Keys, "|") != "input/my dog.jpg|input/café.PNG" || len(g[1].Keys) != 1 {
		t.Errorf("keys %q %q", g[0].Keys, g[1].Keys)
	}
	if strings.Join(g[0].AllOwners(), ",") != "m1,m2,m4" {
		t.Errorf("owners %q", g[0].AllOwners())
	}
	if w.Images() != 3 || len(w.Skipped) != 5 {
		t.Errorf("images %d, skipped %+v", w.Images(), w.Skipped)
	}
}

// batchEndpoint answers SubmitJob with the statuses in order, then 200.
type batchEndpoint struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	calls    []map[string]any
}

func newEndpoint(t *testing.T, statuses ...int) *batchEndpoint {
	e := &batchEndpoint{statuses: statuses}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		e.mu.Lock()
		e.calls = append(e.calls, body)
		status := 200
		if len(e.statuses) > 0 {
			status, e.statuses = e.statuses[0], e.statuses[1:]
		}
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case status == 429:
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(status)
			io.WriteString(w, `{"message":"Too Many Requests"}`)
		case status == 400:
			w.Header().Set("X-Amzn-ErrorType", "ClientException")
			w.WriteHeader(status)
			io.WriteString(w, `{"message":"queue does not exist"}`)
		case status >= 500:
			w.Header().Set("X-Amzn-ErrorType", "ServerException")
			w.WriteHeader(status)
			io.WriteString(w, `{"message":"internal"}`)
		default:
			io.WriteString(w, `{"jobArn":"arn:aws:batch:us-east-1:1:job/j-1","jobId":"j-1","jobName":"`+body["jobName"].(string)+`"}`)
		}
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *batchEndpoint) client() *batch.Client {
	return batch.New(batch.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(e.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		HTTPClient:  awshttp.NewBuildableClient(),
		Retryer:     aws.NopRetryer{}, // this package's retries only
	})
}

type memWriter struct {
	mu      sync.Mutex
	objects map[string]string
}

func (m *memWriter) WriteURL(_ context.Context, uri string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objects == nil {
		m.objects = map[string]string{}
	}
	m.objects[uri] = string(data)
	return nil
}

func testConfig() Config {
	return Config{JobQueue: "q", JobDefinition: "d:1", ImagesPerChild: 100, Trigger: "sqs",
		Retry: Retry{Attempts: 4, Base: time.Millisecond, Max: 4 * time.Millisecond}}
}

func TestKeysRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		calls    int
		ok       bool
	}{
		{"ok", nil, 1, true},
		{"throttled then ok", []int{429, 429, 429}, 4, true},
		{"server error then ok", []int{500, 503}, 3, true},
		{"always throttled", []int{429, 429, 429, 429, 429}, 4, false},
		{"client error is not retried", []int{400}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := newEndpoint(t, tc.statuses...)
			store := &memWriter{}
			s := New(testConfig(), ep.client(), store, nil)
			keys := make([]string, 250)
			for i := range keys {
				keys[i] = "input/a/" + string(rune('a'+i%26)) + ".jpg"
			}
			job, err := s.Keys(context.Background(), "mlserve-w1", "bkt", "input/", keys)
			if len(ep.calls) != tc.calls {
				t.Errorf("%d SubmitJob calls, want %d", len(ep.calls), tc.calls)
			}
			if !tc.ok {
				var se *SubmitJobError
				if !errors.As(err, &se) || se.Attempts != tc.calls {
					t.Fatalf("err = %v, want a *SubmitJobError after %d attempts", err, tc.calls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if job.JobID != "j-1" || job.ArraySize != 3 || job.Images != 250 || job.Attempts != tc.calls ||
				job.Summary != "s3://bkt/output/_jobs/j-1/summary.json" {
				t.Errorf("job %+v", job)
			}
			c := ep.calls[len(ep.calls)-1]
			cmd, _ := json.Marshal(c["containerOverrides"])
			want := `{"command":["batch","--manifest","s3://bkt/manifests/mlserve-w1.jsonl","--input","s3://bkt/input/","--output","s3://bkt/output/"],"environment":[{"name":"MLSERVE_SHARDS","value":"3"}]}`
			if string(cmd) != want {
				t.Errorf("overrides\n got %s\nwant %s", cmd, want)
			}
			if n := strings.Count(store.objects["s3://bkt/manifests/mlserve-w1.jsonl"], "\n"); n != 250 {
				t.Errorf("manifest has %d lines", n)
			}
		})
	}
}

// One child's worth of images is a plain job: no array properties.
func TestPlainJob(t *testing.T) {
	ep := newEndpoint(t)
	s := New(testConfig(), ep.client(), &memWriter{}, nil)
	job, err := s.Keys(context.Background(), "j", "bkt", "input/", []string{"input/x.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ep.calls[0]["arrayProperties"]; ok || job.ArraySize != 0 {
		t.Errorf("plain job expected: %+v %v", job, ep.calls[0])
	}
}

// A retry that would outlive the deadline is not waited for.
func TestRetryStopsAtDeadline(t *testing.T) {
	ep := newEndpoint(t, 429, 429, 429)
	cfg := testConfig()
	cfg.Retry = Retry{Attempts: 5, Base: time.Second, Max: time.Second}
	s := New(cfg, ep.client(), &memWriter{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Keys(ctx, "j", "bkt", "input/", []string{"input/x.jpg"})
	if err == nil || len(ep.calls) != 1 || time.Since(start) > 150*time.Millisecond {
		t.Errorf("err %v after %d calls in %s", err, len(ep.calls), time.Since(start))
	}
}

func TestConfigCheck(t *testing.T) {
	s := New(Config{}, nil, nil, nil)
	_, err := s.Keys(context.Background(), "j", "b", "input/", []string{"input/x.jpg"})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "MLSERVE_JOB_QUEUE") || !strings.Contains(err.Error(), "MLSERVE_JOB_DEFINITION") {
		t.Errorf("err = %v", err)
	}
}

func TestJobName(t *testing.T) {
	long := strings.Repeat("p", 200)
	for _, tc := range []struct{ prefix, suffix, want string }{
		{"mlserve", "-abc", "mlserve-abc"},
		{"my app!", "-r/1", "my-app--r-1"},
		{"", "-x", "x"},
		{"", "", "mlserve"},
		{long, "-id", long[:125] + "-id"},
	} {
		got := JobName(tc.prefix, tc.suffix)
		if got != tc.want || len(got) > 128 {
			t.Errorf("JobName(%q, %q) = %q, want %q", tc.prefix, tc.suffix, got, tc.want)
		}
	}
}
