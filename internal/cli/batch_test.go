package cli

import (
	"bytes"
	"cmp"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/config"
)

func TestResolveShard(t *testing.T) {
	tests := []struct {
		name          string
		shard, shards int
		env           map[string]string
		wantShard     int
		wantShards    int
		wantErr       bool
	}{
		{name: "nothing", shard: -1, wantShard: 0, wantShards: 1},
		{name: "array job", shard: -1, env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "2", "MLSERVE_SHARDS": "4"}, wantShard: 2, wantShards: 4},
		{name: "flags override env", shard: 1, shards: 3, env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "2", "MLSERVE_SHARDS": "4"}, wantShard: 1, wantShards: 3},
		{name: "index without size", shard: -1, env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "1"}, wantErr: true},
		{name: "index zero without size", shard: -1, env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "0"}, wantShard: 0, wantShards: 1},
		{name: "size without index", shard: -1, env: map[string]string{"MLSERVE_SHARDS": "3"}, wantErr: true},
		{name: "out of range", shard: 3, shards: 3, wantErr: true},
		{name: "bad size", shard: -1, env: map[string]string{"MLSERVE_SHARDS": "x"}, wantErr: true},
		{name: "bad index", shard: -1, env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "-1", "MLSERVE_SHARDS": "2"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// MLSERVE_SHARDS reaches resolveShard as the --shards default.
			env, err := config.Load(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			shard, shards := 0, 0
			if err == nil {
				shard, shards, err = resolveShard(tt.shard, cmp.Or(tt.shards, env.Shards), func(k string) string { return tt.env[k] })
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (shard != tt.wantShard || shards != tt.wantShards) {
				t.Errorf("= %d of %d, want %d of %d", shard, shards, tt.wantShard, tt.wantShards)
			}
		})
	}
}

func TestBatchUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
	}{
		{"no output", []string{"--input", dir}},
		{"no input", []string{"--output", dir}},
		{"output in input", []string{"--input", dir, "--output", dir + "/out"}},
		{"bad format", []string{"--input", dir + "/in", "--output", dir + "/out", "--format", "xml"}},
		{"bad max failures", []string{"--input", dir + "/in", "--output", dir + "/out", "--max-failures", "lots"}},
		{"bad batch size", []string{"--input", dir + "/in", "--output", dir + "/out", "--batch-size", "0"}},
		{"bad shard", []string{"--input", dir + "/in", "--output", dir + "/out", "--shard", "2", "--shards", "2"}},
		{"bad top-k", []string{"--input", dir + "/in", "--output", dir + "/out", "-k", "0"}},
		{"unknown flag", []string{"--input", dir + "/in", "--output", dir + "/out", "--nope"}},
		{"argument", []string{"--input", dir + "/in", "--output", dir + "/out", "extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_BATCH_JOB_ARRAY_INDEX", "")
			t.Setenv("MLSERVE_SHARDS", "")
			var stderr bytes.Buffer
			code := Run(context.Background(), append([]string{"batch"}, tt.args...), IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &stderr})
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, ExitUsage, stderr.String())
			}
		})
	}
}

func TestBatchConfig(t *testing.T) {
	// Shards: 2 is what --shards defaults to with MLSERVE_SHARDS=2 (see TestBatchShardsVariable).
	o := batchOptions{Input: "s3://b/in/", Output: "s3://b/out/", Shard: -1, Shards: 2, BatchSize: 4, TopK: 3,
		Format: "csv", MaxFailures: "2%", Concurrency: 5, Grace: time.Minute, LogFormat: "json", LogLevel: "info"}
	cfg, err := o.config(func(k string) string {
		return map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "1"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Shard != 1 || cfg.Shards != 2 || !cfg.CSV || cfg.BatchSize != 4 || cfg.TopK != 3 ||
		cfg.Fetchers != 5 || cfg.Uploaders != 5 || cfg.MaxFailures.String() != "2%" {
		t.Errorf("config %+v", cfg)
	}
}

func TestBatchModelMissing(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	code := Run(context.Background(), []string{"batch", "--input", dir + "/in", "--output", dir + "/out", "--model", dir + "/none.onnx"},
		IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &stderr})
	if code != ExitFailure {
		t.Errorf("exit %d, want %d; stderr: %s", code, ExitFailure, stderr.String())
	}
}

// MLSERVE_SHARDS is read through config: the --shards default, and a bad
// value is a usage error naming it.
func TestBatchShardsVariable(t *testing.T) {
	t.Setenv("MLSERVE_SHARDS", "2")
	cmd := newBatchCmd(IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	if f := cmd.Flags().Lookup("shards"); f == nil || f.DefValue != "2" {
		t.Fatalf("--shards default %v, want 2", f)
	}
	t.Setenv("MLSERVE_SHARDS", "zero")
	var stderr bytes.Buffer
	dir := t.TempDir()
	code := Run(context.Background(), []string{"batch", "--input", dir + "/in", "--output", dir + "/out"}, IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &stderr})
	if code != ExitUsage || !strings.Contains(stderr.String(), "MLSERVE_SHARDS") {
		t.Errorf("exit %d, stderr %q: want a usage error naming MLSERVE_SHARDS", code, stderr.String())
	}
}

// batch.JobCommand and batch.PrefixCommand, which the submitter puts in
// job overrides, are command lines `mlserve batch` parses.
func TestBatchJobCommand(t *testing.T) {
	for _, tc := range []struct {
		args                    []string
		manifest, input, output string
	}{
		{batch.JobCommand("s3://b/manifests/j.jsonl", "", "s3://b/output/"), "s3://b/manifests/j.jsonl", "", "s3://b/output/"},
		{batch.JobCommand("s3://b/manifests/j.jsonl", "s3://b/input/", "s3://b/output/"), "s3://b/manifests/j.jsonl", "s3://b/input/", "s3://b/output/"},
		{batch.PrefixCommand("s3://b/input/", "s3://b/output/"), "", "s3://b/input/", "s3://b/output/"},
	} {
		cmd := newBatchCmd(IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
		if tc.args[0] != cmd.Name() {
			t.Fatalf("command %q, want %q", tc.args[0], cmd.Name())
		}
		if err := cmd.ParseFlags(tc.args[1:]); err != nil {
			t.Fatal(err)
		}
		m, _ := cmd.Flags().GetString("manifest")
		i, _ := cmd.Flags().GetString("input")
		o, _ := cmd.Flags().GetString("output")
		if m != tc.manifest || i != tc.input || o != tc.output {
			t.Errorf("%q: manifest %q, input %q, output %q", tc.args, m, i, o)
		}
	}
}
