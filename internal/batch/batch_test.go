package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/s3io"
)

// fakeClassifier stands in for the engine: Prepare rejects data containing
// "BAD" as corrupt, Run gives each input the class len(data) % 1000.
type fakeClassifier struct {
	mu      sync.Mutex
	batches []int
	runs    atomic.Int64
	runErr  error
	// onRun, when set, is called before each Run.
	onRun func(n int64)
}

func (f *fakeClassifier) Info() infer.ModelInfo { return infer.ModelInfo{Name: "fake"} }

func (f *fakeClassifier) Prepare(data []byte) (*infer.Input, error) {
	if bytes.Contains(data, []byte("BAD")) {
		return nil, &imageprep.Error{Code: imageprep.CodeCorrupt, Err: errors.New("bad data")}
	}
	return &infer.Input{Image: imageprep.Info{Width: len(data), Height: 1, Format: "jpeg"}}, nil
}

func (f *fakeClassifier) Run(ctx context.Context, in []*infer.Input, topK int) ([]infer.Result, error) {
	n := f.runs.Add(1)
	if f.onRun != nil {
		f.onRun(n)
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(in))
	f.mu.Unlock()
	if f.runErr != nil {
		return nil, f.runErr
	}
	out := make([]infer.Result, len(in))
	for i, x := range in {
		out[i] = infer.Result{Model: "fake", Predictions: []infer.Prediction{{Rank: 1, ClassID: x.Image.Width % 1000, Label: "a, \"quoted\" label", Probability: 0.5}}}
	}
	return out, nil
}

const jpegMagic = "\xFF\xD8\xFF\xE0"

// inputs is the test input set: good images, and one of each way to fail.
var inputs = map[string]string{
	"a.jpg":                jpegMagic + "aaaa",
	"sub/b.png":            "\x89PNG\r\n\x1a\n" + "bb",
	"with space/ünï 猫.jpg": jpegMagic + "unicode",
	"deep/x/y/c.JPEG":      jpegMagic + "c",
	"corrupt.jpg":          jpegMagic + "BAD",
	"empty.jpg":            "",
	"notes.txt":            "not an image",
	"text.jpg":             "plain text with an image name",
}

var wantFailures = map[string]string{
	"corrupt.jpg": imageprep.CodeCorrupt,
	"empty.jpg":   imageprep.CodeEmpty,
	"notes.txt":   imageprep.CodeNotImage,
	"text.jpg":    imageprep.CodeNotImage,
}

var memN atomic.Int64

// testJob is the job name of testConfig's runs.
const testJob = "test-job"

// newMem returns fresh input and output mem:// URLs holding inputs.
func newMem(t *testing.T) (in, out string) {
	t.Helper()
	n := memN.Add(1)
	in, out = fmt.Sprintf("mem://batch-%d/input/", n), fmt.Sprintf("mem://batch-%d/output/", n)
	s, err := s3io.Open(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range inputs {
		if err := s.Put(context.Background(), k, strings.NewReader(v), int64(len(v))); err != nil {
			t.Fatal(err)
		}
	}
	return in, out
}

func testConfig(t *testing.T, in, out string) Config {
	return Config{
		Input: in, Output: out, Job: testJob, BatchSize: 3, TopK: 1,
		MaxFailures: Threshold{N: 100, Percent: true},
		TempDir:     t.TempDir(), ProgressEvery: -1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// shardRecords reads every results-*.jsonl and failures-*.jsonl under out
// and returns the inputs' keys, failing on any input recorded twice.
func shardRecords(t *testing.T, out string, shards int) (results map[string]api.Result, failures map[string]Failure) {
	t.Helper()
	s, err := s3io.Open(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	results, failures = map[string]api.Result{}, map[string]Failure{}
	seen := map[string]string{}
	for shard := range shards {
		for _, line := range readLines(t, s, fmt.Sprintf(JobPrefix(testJob)+"results-%d.jsonl", shard)) {
			var r api.Result
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatal(err)
			}
			if r.Source == nil {
				t.Fatalf("result without source: %s", line)
			}
			if prev, dup := seen[r.Source.URI]; dup {
				t.Errorf("%s recorded twice (%s and results-%d)", r.Source.URI, prev, shard)
			}
			seen[r.Source.URI] = fmt.Sprintf("results-%d", shard)
			results[r.Source.URI] = r
		}
		for _, line := range readLines(t, s, fmt.Sprintf(JobPrefix(testJob)+"failures-%d.jsonl", shard)) {
			var f Failure
			if err := json.Unmarshal(line, &f); err != nil {
				t.Fatal(err)
			}
			if prev, dup := seen[f.Input]; dup {
				t.Errorf("%s recorded twice (%s and failures-%d)", f.Input, prev, shard)
			}
			seen[f.Input] = fmt.Sprintf("failures-%d", shard)
			failures[f.Input] = f
		}
	}
	return results, failures
}

func readLines(t *testing.T, s s3io.Store, key string) [][]byte {
	t.Helper()
	rc, _, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	var lines [][]byte
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return lines
}

// checkComplete asserts that every input has exactly one record, the right one.
func checkComplete(t *testing.T, in, out string, shards int) {
	t.Helper()
	results, failures := shardRecords(t, out, shards)
	for k := range inputs {
		uri := in + k
		code, wantFail := wantFailures[k]
		_, gotRes := results[uri]
		f, gotFail := failures[uri]
		switch {
		case wantFail && (!gotFail || f.Code != code || f.Key != k):
			t.Errorf("%s: failure %+v (found %v), want code %s", k, f, gotFail, code)
		case !wantFail && !gotRes:
			t.Errorf("%s: no result (failure %+v)", k, f)
		}
	}
	if n := len(results) + len(failures); n != len(inputs) {
		t.Errorf("%d records for %d inputs", n, len(inputs))
	}
}

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
