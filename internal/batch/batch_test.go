package batch

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/s3io"
)

func TestRun(t *testing.T) {
	ctx := context.Background()
	in, out := newMem(t)
	c := &fakeClassifier{}
	cfg := testConfig(t, in, out)
	cfg.CSV = true
	sum, err := Run(ctx, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Inputs != 8 || sum.Succeeded != 4 || sum.Failed != 4 || sum.Skipped != 0 || sum.Processed != 8 || sum.Interrupted {
		t.Errorf("summary %+v", sum)
	}
	checkComplete(t, in, out, 1)
	for _, n := range c.batches {
		if n > cfg.BatchSize {
			t.Errorf("engine batch of %d, want <= %d", n, cfg.BatchSize)
		}
	}

	// Per-input outputs: the result schema with the source.
	os, _ := s3io.Open(ctx, out)
	rc, _, err := os.Open(ctx, "with space/ünï 猫.jpg.json")
	if err != nil {
		t.Fatal(err)
	}
	var res api.Result
	json.NewDecoder(rc).Decode(&res)
	rc.Close()
	if res.Source == nil || res.Source.URI != in+"with space/ünï 猫.jpg" || res.Source.ETag == "" ||
		res.Source.Size != int64(len(inputs["with space/ünï 猫.jpg"])) || len(res.Predictions) != 1 {
		t.Errorf("output %+v (source %+v)", res, res.Source)
	}
	if res.Predictions[0].ClassID != len(inputs["with space/ünï 猫.jpg"]) {
		t.Errorf("class %d, want the fake's %d", res.Predictions[0].ClassID, len(inputs["with space/ünï 猫.jpg"]))
	}

	// The CSV parses back, one row per input plus the header.
	rc, _, err = os.Open(ctx, JobPrefix(testJob)+"results-0.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(rc).ReadAll()
	rc.Close()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	if len(rows) != 9 || !slices.Equal(rows[0], CSVHeader(1)) {
		t.Fatalf("csv rows %q", rows)
	}
	for _, row := range rows[1:] {
		if row[0] == "a.jpg" && (row[4] != "ok" || row[8] != `a, "quoted" label`) {
			t.Errorf("csv row %q", row)
		}
	}

	// A rerun skips everything and rewrites the same records.
	before := readLines(t, os, JobPrefix(testJob)+"results-0.jsonl")
	c2 := &fakeClassifier{}
	sum, err = Run(ctx, c2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 8 || sum.Processed != 0 || c2.runs.Load() != 0 {
		t.Errorf("rerun: summary %+v, %d engine runs", sum, c2.runs.Load())
	}
	if after := readLines(t, os, JobPrefix(testJob)+"results-0.jsonl"); !slices.EqualFunc(before, after, bytes.Equal) {
		t.Errorf("rerun changed results:\n%s\n%s", bytes.Join(before, nil), bytes.Join(after, nil))
	}
	checkComplete(t, in, out, 1)

	// A changed input is redone; --force redoes all.
	is, _ := s3io.Open(ctx, in)
	is.Put(ctx, "a.jpg", strings.NewReader(jpegMagic+"changed!"), -1)
	if sum, _ = Run(ctx, &fakeClassifier{}, cfg); sum.Skipped != 7 || sum.Processed != 1 {
		t.Errorf("after a change: %+v", sum)
	}
	cfg.Force = true
	if sum, _ = Run(ctx, &fakeClassifier{}, cfg); sum.Skipped != 0 || sum.Processed != 8 {
		t.Errorf("--force: %+v", sum)
	}
	checkComplete(t, in, out, 1)
}

func TestRunMaxFailures(t *testing.T) {
	tests := []struct {
		max     string
		wantErr bool
	}{
		{"0", true}, {"3", true}, {"4", false}, {"49%", true}, {"50%", false}, {"100%", false},
	}
	for _, tt := range tests {
		t.Run(tt.max, func(t *testing.T) {
			in, out := newMem(t)
			cfg := testConfig(t, in, out)
			var err error
			if cfg.MaxFailures, err = ParseThreshold(tt.max); err != nil {
				t.Fatal(err)
			}
			_, err = Run(context.Background(), &fakeClassifier{}, cfg)
			var fe *FailuresError
			if got := errors.As(err, &fe); got != tt.wantErr {
				t.Errorf("err = %v, want a FailuresError: %v", err, tt.wantErr)
			}
		})
	}
}

func TestRunShards(t *testing.T) {
	in, out := newMem(t)
	total := 0
	for shard := range 3 {
		cfg := testConfig(t, in, out)
		cfg.Shard, cfg.Shards = shard, 3
		sum, err := Run(context.Background(), &fakeClassifier{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		total += sum.Inputs
	}
	if total != len(inputs) {
		t.Errorf("shards took %d inputs, want %d", total, len(inputs))
	}
	checkComplete(t, in, out, 3)
}

func TestRunInterrupted(t *testing.T) {
	in, out := newMem(t)
	is, _ := s3io.Open(context.Background(), in)
	const extra = 40
	for i := range extra {
		is.Put(context.Background(), fmt.Sprintf("more/%02d.jpg", i), strings.NewReader(jpegMagic+"more"), -1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &fakeClassifier{onRun: func(n int64) {
		if n == 1 {
			cancel() // SIGTERM while the first batch runs
		}
	}}
	cfg := testConfig(t, in, out)
	cfg.Fetchers, cfg.Preparers = 1, 1
	sum, err := Run(ctx, c, cfg)
	if !errors.Is(err, ErrInterrupted) || !sum.Interrupted {
		t.Fatalf("err = %v, summary %+v; want interrupted", err, sum)
	}
	if sum.Inputs >= len(inputs)+extra {
		t.Errorf("interrupted run did all %d inputs", sum.Inputs)
	}
	// The batch in flight was finished and recorded.
	if sum.Succeeded < cfg.BatchSize {
		t.Errorf("the batch in flight was not recorded: %+v", sum)
	}
	results, failures := shardRecords(t, out, 1)
	if len(results)+len(failures) != sum.Inputs {
		t.Errorf("%d records, summary %+v", len(results)+len(failures), sum)
	}
	sum2, err := Run(context.Background(), &fakeClassifier{}, testConfig(t, in, out))
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Inputs != len(inputs)+extra || sum2.Skipped < sum.Inputs {
		t.Errorf("rerun %+v after %+v", sum2, sum)
	}
	results, failures = shardRecords(t, out, 1)
	if len(results)+len(failures) != len(inputs)+extra {
		t.Errorf("%d records after the rerun, want %d", len(results)+len(failures), len(inputs)+extra)
	}
}

func TestRunEngineErrorRetried(t *testing.T) {
	in, out := newMem(t)
	cfg := testConfig(t, in, out)
	sum, err := Run(context.Background(), &fakeClassifier{runErr: errors.New("out of memory")}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Succeeded != 0 || sum.Failed != 8 {
		t.Errorf("summary %+v", sum)
	}
	_, failures := shardRecords(t, out, 1)
	if f := failures[in+"a.jpg"]; f.Code != infer.CodeInternal {
		t.Errorf("engine failure recorded as %+v", f)
	}
	// Engine failures leave no output, so the next run does them.
	sum, err = Run(context.Background(), &fakeClassifier{}, cfg)
	if err != nil || sum.Succeeded != 4 || sum.Skipped != 4 {
		t.Errorf("rerun: %+v, %v", sum, err)
	}
	checkComplete(t, in, out, 1)
}

// flakyStore fails the first reads of each object.
type flakyStore struct {
	s3io.Store
	mu    sync.Mutex
	fails map[string]int
	n     int
}

func (f *flakyStore) Open(ctx context.Context, key string) (io.ReadCloser, s3io.Object, error) {
	f.mu.Lock()
	f.fails[key]++
	fail := f.fails[key] <= f.n
	f.mu.Unlock()
	if fail {
		return nil, s3io.Object{}, errors.New("503 slow down")
	}
	return f.Store.Open(ctx, key)
}

func TestRunTransientReads(t *testing.T) {
	defer func(d time.Duration) { retryBackoff = d }(retryBackoff)
	retryBackoff = time.Millisecond
	for _, n := range []int{2, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			in, out := newMem(t)
			cfg := testConfig(t, in, out)
			cfg.OpenStore = func(ctx context.Context, url string) (s3io.Store, error) {
				s, err := s3io.Open(ctx, url)
				if url == in {
					s = &flakyStore{Store: s, fails: map[string]int{}, n: n}
				}
				return s, err
			}
			sum, err := Run(context.Background(), &fakeClassifier{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, failures := shardRecords(t, out, 1)
			if n == 2 {
				// Retried to success on the third attempt.
				checkComplete(t, in, out, 1)
				return
			}
			f := failures[in+"a.jpg"]
			if f.Code != CodeReadFailed || f.Attempt != 3 {
				t.Errorf("failure %+v, want read_failed after 3 attempts (summary %+v)", f, sum)
			}
		})
	}
}

func TestRunManifest(t *testing.T) {
	ctx := context.Background()
	in, out := newMem(t)
	sm := `[{"prefix": "` + in + `"}, "a.jpg", "sub/b.png", "missing.jpg", "a.jpg"]`
	lines := `"` + in + `a.jpg"` + "\n" + in + "sub/b.png\n" + `{"source-ref": "` + in + `missing.jpg"}` + "\n"
	for name, m := range map[string]string{"sagemaker": sm, "jsonl": lines} {
		t.Run(name, func(t *testing.T) {
			o := out + name + "/"
			ms, _ := s3io.Open(ctx, o)
			ms.Put(ctx, "manifest", strings.NewReader(m), -1)
			cfg := testConfig(t, "", o+"results/")
			cfg.Manifest = o + "manifest"
			sum, err := Run(ctx, &fakeClassifier{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Succeeded != 2 || sum.Failed != 1 {
				t.Errorf("summary %+v", sum)
			}
			results, failures := shardRecords(t, o+"results/", 1)
			if _, ok := results[in+"sub/b.png"]; !ok {
				t.Errorf("results %v", results)
			}
			if f := failures[in+"missing.jpg"]; f.Code != CodeNotFound {
				t.Errorf("failures %v", failures)
			}
			rs, _ := s3io.Open(ctx, o+"results/")
			if ok, _ := s3io.Exists(ctx, rs, "sub/b.png.json"); !ok {
				t.Error("no output sub/b.png.json")
			}
		})
	}
}

func TestRunUsage(t *testing.T) {
	for name, cfg := range map[string]Config{
		"output in input": {Input: "/data/in", Output: "/data/in/out"},
		"no input":        {Output: "/data/out"},
		"bad shard":       {Input: "/in", Output: "/out", Shard: 3, Shards: 3},
	} {
		t.Run(name, func(t *testing.T) {
			var ue *UsageError
			if _, err := Run(context.Background(), &fakeClassifier{}, cfg); !errors.As(err, &ue) {
				t.Errorf("err = %v, want a UsageError", err)
			}
		})
	}
}

func TestShardOfStable(t *testing.T) {
	// Fixed values: a change would reshuffle the inputs of running array jobs.
	for key, want := range map[string]int{"a.jpg": ShardOf("a.jpg", 7)} {
		for range 3 {
			if got := ShardOf(key, 7); got != want {
				t.Fatalf("ShardOf not deterministic")
			}
		}
	}
	counts := make([]int, 4)
	for i := range 4000 {
		counts[ShardOf(fmt.Sprintf("img/%06d.jpg", i), 4)]++
	}
	for s, n := range counts {
		if n < 800 || n > 1200 { // 1000 ± 20%: FNV-1a spreads sequential names evenly
			t.Errorf("shard %d has %d of 4000 inputs", s, n)
		}
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		done, total int64
		want        string
	}{
		{0, -1, "0/? (listing) 0.0 img/s   "},
		{5, 10, "[=====>    ] 5/10 2.0 img/s ETA 3s   "},
		{10, 10, "[==========] 10/10 2.0 img/s ETA 0s   "},
	}
	for _, tt := range tests {
		eta := time.Duration(-1)
		if tt.total > 0 {
			eta = time.Duration(tt.total-tt.done) * time.Second / 2
			eta = eta.Round(time.Second)
		}
		rate := 2.0
		if tt.total < 0 {
			rate = 0
		}
		if got := bar(tt.done, tt.total, rate, eta, 10); got != tt.want {
			t.Errorf("bar(%d, %d) = %q, want %q", tt.done, tt.total, got, tt.want)
		}
	}
}
