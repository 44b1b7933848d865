package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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
