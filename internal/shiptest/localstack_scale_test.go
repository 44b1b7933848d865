package shiptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/shiptest/localaws"
	"github.com/mlserve/mlserve/internal/testsupport"
)

func (st *stack) base() string { return fmt.Sprintf("http://127.0.0.1:%d", st.awsPort) }

type jobsView struct {
	Jobs        []localaws.Job `json:"jobs"`
	SubmitCalls int            `json:"submit_calls"`
}

func (st *stack) jobs(t *testing.T) jobsView {
	var v jobsView
	getJSON(t, st.base()+"/local/jobs", &v)
	return v
}

func (st *stack) windows(t *testing.T) []localaws.Window {
	var v struct{ Windows []localaws.Window }
	getJSON(t, st.base()+"/local/windows", &v)
	return v.Windows
}

// waitJobs waits until at least n jobs were submitted and all stopped.
func (st *stack) waitJobs(ctx context.Context, t *testing.T, n int) []localaws.Job {
	t.Helper()
	for {
		v := st.jobs(t)
		stopped := 0
		for _, j := range v.Jobs {
			if j.Status == "SUCCEEDED" || j.Status == "FAILED" {
				stopped++
			}
		}
		if len(v.Jobs) >= n && stopped == len(v.Jobs) {
			return v.Jobs
		}
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %d stopped jobs: %+v", n, v.Jobs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (st *stack) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := st.s3Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mlserve"), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(obj.Body)
	return b.Bytes(), err
}

func (st *stack) manifest(ctx context.Context, t *testing.T, uri string) []string {
	t.Helper()
	b, err := st.get(ctx, strings.TrimPrefix(uri, "s3://mlserve/"))
	if err != nil {
		t.Fatalf("manifest %s: %v", uri, err)
	}
	var uris []string
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var u string
		if err := dec.Decode(&u); err != nil {
			t.Fatalf("manifest %s: %v", uri, err)
		}
		uris = append(uris, u)
	}
	return uris
}

func (st *stack) jobSummary(ctx context.Context, t *testing.T, job string) batch.JobSummary {
	t.Helper()
	var js batch.JobSummary
	b, err := st.get(ctx, "output/"+batch.JobSummaryKey(job))
	if err == nil {
		err = json.Unmarshal(b, &js)
	}
	if err != nil {
		t.Fatalf("job summary of %s: %v", job, err)
	}
	return js
}

func (st *stack) result(ctx context.Context, t *testing.T, key string) api.Result {
	t.Helper()
	b, err := st.get(ctx, key)
	var r api.Result
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return r
}

// upload puts n copies of img under prefix, 16 at a time.
func (st *stack) upload(ctx context.Context, t *testing.T, prefix string, n int, img []byte) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%05d.jpg", prefix, i)
	}
	client := st.s3Client()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mlserve"), Key: aws.String(k), Body: bytes.NewReader(img)}); err != nil {
				errs <- fmt.Errorf("put %s: %w", k, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return keys
}

// waitOutputs waits until every key has its output (a result or a failure
// record), and fails on any output that is not one whole record.
func (st *stack) waitOutputs(ctx context.Context, t *testing.T, keys []string) {
	t.Helper()
	left := map[string]bool{}
	for _, k := range keys {
		left[k] = true
	}
	for len(left) > 0 {
		for k := range left {
			b, err := st.get(ctx, "output/"+strings.TrimPrefix(k, "input/")+".json")
			if err != nil {
				continue
			}
			var r api.Result
			if err := json.Unmarshal(b, &r); err != nil || r.Source == nil || r.Source.URI != "s3://mlserve/"+k {
				t.Fatalf("%s: output is not one whole record: %v\n%s", k, err, b)
			}
			delete(left, k)
		}
		if len(left) == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("timed out: %d of %d uploads have no output", len(left), len(keys))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (st *stack) faults(t *testing.T, f localaws.Faults) {
	t.Helper()
	b, _ := json.Marshal(f)
	resp, err := http.Post(st.base()+"/local/faults", "application/json", bytes.NewReader(b))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("faults: %v %v", resp, err)
	}
	resp.Body.Close()
}

// phase is what the stack did between two snapshots.
type phase struct {
	windows []localaws.Window // with at least one message
	jobs    []localaws.Job
	calls   int
}

func (st *stack) since(t *testing.T, w0, j0, c0 int) phase {
	ws, js := st.windows(t), st.jobs(t)
	return phase{windows: ws[w0:], jobs: js.Jobs[j0:], calls: js.SubmitCalls - c0}
}

func (st *stack) marks(t *testing.T) (int, int, int) {
	js := st.jobs(t)
	return len(st.windows(t)), len(js.Jobs), js.SubmitCalls
}

// checkJobs asserts one SubmitJob per window that was not a direct burst,
// array sizes of ceil(images / perChild), and job summaries that add up.
func (st *stack) checkJobs(ctx context.Context, t *testing.T, p phase, perChild int) {
	t.Helper()
	submitted := 0
	for _, w := range p.windows {
		var resp struct {
			Jobs []struct {
				JobID string `json:"job_id"`
			} `json:"jobs"`
		}
		json.Unmarshal(w.Response, &resp)
		if len(resp.Jobs) > 1 {
			t.Errorf("window of %d messages made %d jobs, want at most 1", len(w.Messages), len(resp.Jobs))
		}
		submitted += len(resp.Jobs)
	}
	if submitted != len(p.jobs) {
		t.Errorf("%d jobs submitted by %d windows, the stand-in has %d", submitted, len(p.windows), len(p.jobs))
	}
	for _, j := range p.jobs {
		n := len(st.manifest(ctx, t, j.Command[2]))
		want := (n + perChild - 1) / perChild
		if want == 1 {
			want = 0 // a plain job
		}
		if j.ArraySize != want {
			t.Errorf("job %s: array size %d for %d images, want %d", j.ID, j.ArraySize, n, want)
		}
		js := st.jobSummary(ctx, t, j.ID)
		if js.Images != n || js.Succeeded+js.Failed != n || !js.Complete {
			t.Errorf("job %s summary %+v, want %d images", j.ID, js, n)
		}
	}
}

// TestLocalStackScale drives bursts of uploads through the queue and the
// faults the issue names, and checks that every upload ends with exactly
// one record.
func TestLocalStackScale(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw, goaws, the RIE and mlserve: skipped with -short")
	}
	const perChild = 100
	st := startStack(t, "MLSERVE_DIRECT_MAX=5", fmt.Sprintf("MLSERVE_IMAGES_PER_CHILD=%d", perChild),
		// The visibility timeout outlasts a window and its invocation, as
		// AWS asks of a queue behind an event source mapping.
		"WINDOW=3s", "VISIBILITY_TIMEOUT=10", "MAX_RECEIVE_COUNT=2")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	img, err := os.ReadFile(testsupport.Fixtures(t, "images", "scene-640x427-q90.jpg"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("burst of 1: classified in the function", func(t *testing.T) {
		w0, j0, c0 := st.marks(t)
		keys := st.upload(ctx, t, "input/b1/", 1, img)
		st.waitOutputs(ctx, t, keys)
		p := st.since(t, w0, j0, c0)
		if p.calls != 0 {
			t.Errorf("%d SubmitJob calls for a direct burst, want 0", p.calls)
		}
	})
	for _, n := range []int{10, 1000} {
		t.Run(fmt.Sprintf("burst of %d", n), func(t *testing.T) {
			w0, j0, c0 := st.marks(t)
			keys := st.upload(ctx, t, fmt.Sprintf("input/b%d/", n), n, img)
			st.waitOutputs(ctx, t, keys)
			st.waitJobs(ctx, t, j0+1)
			p := st.since(t, w0, j0, c0)
			st.checkJobs(ctx, t, p, perChild)
			t.Logf("burst of %d: %d windows, %d SubmitJob calls, %d jobs", n, len(p.windows), p.calls, len(p.jobs))
		})
	}
	t.Run("429 on the first submissions", func(t *testing.T) {
		w0, j0, c0 := st.marks(t)
		st.faults(t, localaws.Faults{Throttle: 3, KillIndex: -1})
		keys := st.upload(ctx, t, "input/throttled/", 10, img)
		st.waitOutputs(ctx, t, keys)
		st.waitJobs(ctx, t, j0+1)
		p := st.since(t, w0, j0, c0)
		if p.calls < 4 || len(p.jobs) < 1 {
			t.Errorf("%d SubmitJob calls, %d jobs: want the 3 throttled calls retried", p.calls, len(p.jobs))
		}
		st.checkJobs(ctx, t, p, perChild)
	})
	t.Run("SIGKILLed array child, rerun", func(t *testing.T) {
		w0, j0, c0 := st.marks(t)
		st.faults(t, localaws.Faults{KillIndex: 1, KillAfterMS: 300})
		keys := st.upload(ctx, t, "input/killed/", 3*perChild, img)
		st.waitOutputs(ctx, t, keys)
		st.waitJobs(ctx, t, j0+1)
		st.faults(t, localaws.Faults{KillIndex: -1})
		p := st.since(t, w0, j0, c0)
		st.checkJobs(ctx, t, p, perChild)
		killed := false
		for _, j := range p.jobs {
			for _, r := range j.Runs {
				killed = killed || (r.Index == 1 && r.Attempt == 1 && r.ExitCode != 0)
			}
		}
		if !killed {
			t.Errorf("no child was killed: %+v", p.jobs)
		}
	})
	t.Run("message delivered twice", func(t *testing.T) { checkDeliveredTwice(ctx, t, st, img) })
	t.Run("submission always fails: messages end in the DLQ", func(t *testing.T) { checkDLQThenSweep(ctx, t, st, img) })
}

// checkDeliveredTwice sends every upload's notification a second time: no
// job records a key twice.
func checkDeliveredTwice(ctx context.Context, t *testing.T, st *stack, img []byte) {
	j0 := len(st.jobs(t).Jobs)
	keys := st.upload(ctx, t, "input/twice/", 8, img)
	q := &localaws.SQS{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", st.sqsPort)}
	url, err := q.QueueURL(ctx, "mlserve-uploads")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		ev := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"mlserve"},"object":{"key":%q,"size":%d}}}]}`, k, len(img))
		if err := q.Send(ctx, url, ev); err != nil {
			t.Fatal(err)
		}
	}
	st.waitOutputs(ctx, t, keys)
	jobs := st.waitJobs(ctx, t, j0+1)
	// Each job's records name each key at most once.
	for _, j := range jobs[j0:] {
		seen := map[string]bool{}
		for _, f := range []string{"results-0.jsonl", "failures-0.jsonl"} {
			b, _ := st.get(ctx, "output/"+batch.JobPrefix(j.ID)+f)
			for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				var r struct {
					Source struct{ URI string } `json:"source"`
					Input  string               `json:"input"`
				}
				json.Unmarshal(line, &r)
				uri := r.Source.URI + r.Input
				if seen[uri] {
					t.Errorf("job %s records %s twice", j.ID, uri)
				}
				seen[uri] = true
			}
		}
	}
}

// checkDLQThenSweep makes the job queue refuse every job until the uploads'
// messages sit in the DLQ, then fixes it and sweeps: every upload gets its
// result.
func checkDLQThenSweep(ctx context.Context, t *testing.T, st *stack, img []byte) {
	// Every upload before this has its output (checked above); now the
	// job queue refuses every job.
	st.faults(t, localaws.Faults{Refuse: true, KillIndex: -1})
	defer st.faults(t, localaws.Faults{KillIndex: -1})
	keys := st.upload(ctx, t, "input/refused/", 8, img)
	q := &localaws.SQS{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", st.sqsPort)}
	dlq, err := q.QueueURL(ctx, "mlserve-uploads-dlq")
	if err != nil {
		t.Fatal(err)
	}
	for {
		n, err := q.Depth(ctx, dlq)
		if err != nil {
			t.Fatal(err)
		}
		if n >= len(keys) {
			if n > len(keys) {
				t.Errorf("DLQ holds %d messages, want %d: earlier phases lost messages to it", n, len(keys))
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("DLQ holds %d messages, want %d", n, len(keys))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The cause fixed, the scheduled sweep classifies what has no
	// result: nothing was lost.
	st.faults(t, localaws.Faults{KillIndex: -1})
	j0 := len(st.jobs(t).Jobs)
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", st.lambdaPort),
		"application/json", strings.NewReader(`{"sweep":{"prefix":"input/"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var sweep struct {
		Missing int `json:"missing"`
		Jobs    []struct {
			JobID string `json:"job_id"`
		} `json:"jobs"`
	}
	err = json.NewDecoder(resp.Body).Decode(&sweep)
	resp.Body.Close()
	if err != nil || sweep.Missing != len(keys) || len(sweep.Jobs) != 1 {
		t.Fatalf("sweep answer %+v, %v: want one job for the %d uploads without a result", sweep, err, len(keys))
	}
	st.waitOutputs(ctx, t, keys)
	st.waitJobs(ctx, t, j0+1)
}
