package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/s3io"
)

func readJobSummary(t *testing.T, out, job string) (JobSummary, bool) {
	t.Helper()
	s, err := s3io.Open(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Open(context.Background(), JobSummaryKey(job))
	if err != nil {
		return JobSummary{}, false
	}
	defer rc.Close()
	var js JobSummary
	if err := json.NewDecoder(rc).Decode(&js); err != nil {
		t.Fatal(err)
	}
	return js, true
}

// The report: two runs over different inputs into one output. Each
// keeps its own records, and each job summary counts its own inputs.
func TestJobsDoNotOverwrite(t *testing.T) {
	ctx := context.Background()
	in1, out := newMem(t)
	in2, _ := newMem(t)
	s2, _ := s3io.Open(ctx, in2)
	s2.Put(ctx, "only-here.jpg", strings.NewReader(jpegMagic+"x"), -1)
	var jobs []string
	for _, in := range []string{in1, in2} {
		cfg := testConfig(t, in, out)
		cfg.Job = "" // the default: one per input
		sum, err := Run(ctx, &fakeClassifier{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, sum.Job)
	}
	if jobs[0] == jobs[1] || !strings.HasPrefix(jobs[0], "run-") {
		t.Fatalf("jobs %q: want two distinct default names", jobs)
	}
	for i, want := range []int{len(inputs), len(inputs) + 1} {
		js, ok := readJobSummary(t, out, jobs[i])
		if !ok {
			t.Fatalf("no summary for job %s", jobs[i])
		}
		if js.Images != want || js.Succeeded+js.Failed != want || !js.Complete || js.Shards != 1 ||
			len(js.Results) != 1 || js.Results[0] != out+"_jobs/"+jobs[i]+"/results-0.jsonl" {
			t.Errorf("job %d summary %+v, want %d images", i, js, want)
		}
		os, _ := s3io.Open(ctx, out)
		n := len(readLines(t, os, JobPrefix(jobs[i])+"results-0.jsonl")) + len(readLines(t, os, JobPrefix(jobs[i])+"failures-0.jsonl"))
		if n != want {
			t.Errorf("job %d: %d records, want %d", i, n, want)
		}
	}
}

// A sharded job: the job summary appears once the last shard is done and
// its counts add up to the inputs.
func TestJobSummaryShards(t *testing.T) {
	ctx := context.Background()
	in, out := newMem(t)
	const shards = 3
	for shard := range shards {
		if _, ok := readJobSummary(t, out, testJob); ok {
			t.Fatalf("job summary before shard %d ran", shard)
		}
		cfg := testConfig(t, in, out)
		cfg.Shard, cfg.Shards = shard, shards
		if _, err := Run(ctx, &fakeClassifier{}, cfg); err != nil {
			t.Fatal(err)
		}
	}
	js, ok := readJobSummary(t, out, testJob)
	if !ok {
		t.Fatal("no job summary after every shard")
	}
	if js.Images != len(inputs) || js.Succeeded != 4 || js.Failed != 4 || js.Skipped != 0 || !js.Complete ||
		len(js.Results) != shards || len(js.Summaries) != shards {
		t.Errorf("job summary %+v", js)
	}
	checkComplete(t, in, out, shards)
}

// Two jobs racing over the same inputs into one output (as a redelivered
// message's job and the first one may): every per-input output is one
// whole record, and each job has its own complete records.
func TestRacingJobs(t *testing.T) {
	ctx := context.Background()
	in, out := newMem(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := testConfig(t, in, out)
			cfg.Job, cfg.Force, cfg.BatchSize = fmt.Sprintf("race-%d", i), true, 1
			_, errs[i] = Run(ctx, &fakeClassifier{}, cfg)
		}()
	}
	wg.Wait()
	os, _ := s3io.Open(ctx, out)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		js, ok := readJobSummary(t, out, fmt.Sprintf("race-%d", i))
		if !ok || js.Images != len(inputs) {
			t.Errorf("job %d summary %+v", i, js)
		}
	}
	for k := range inputs {
		rc, _, err := os.Open(ctx, k+".json")
		if err != nil {
			t.Errorf("%s: no output: %v", k, err)
			continue
		}
		var r api.Result
		err = json.NewDecoder(rc).Decode(&r)
		rc.Close()
		if err != nil || r.Source == nil || r.Source.URI != in+k {
			t.Errorf("%s: broken output %+v: %v", k, r, err)
		}
	}
}

// Inputs given as a list, as the Lambda's direct bursts give them.
func TestRunInputs(t *testing.T) {
	in, out := newMem(t)
	cfg := testConfig(t, in, out)
	cfg.Inputs = []string{in + "a.jpg", in + "sub/b.png", in + "a.jpg", in + "missing.jpg"}
	sum, err := Run(context.Background(), &fakeClassifier{}, cfg)
	if err != nil || sum.Succeeded != 2 || sum.Failed != 1 || sum.RunFailed != 1 {
		t.Fatalf("summary %+v, err %v; want 2 results and 1 not_found", sum, err)
	}
	os, _ := s3io.Open(context.Background(), out)
	if ok, _ := s3io.Exists(context.Background(), os, "sub/b.png.json"); !ok {
		t.Error("sub/b.png.json: outputs are named relative to Input")
	}
}
