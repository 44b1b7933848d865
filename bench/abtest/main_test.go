package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseResult(t *testing.T) {
	tests := []struct {
		name, out string
		want      result
		wantErr   string
	}{
		{"line", "engine=mlserve batch=1 ms_per_img=42.30 min_ms_per_img=38.42 peak_rss_mib=217.8 load_ms=376\n",
			result{ms: 42.30, minMs: 38.42, rssMiB: 217.8}, ""},
		{"lanes and last line wins", "engine=mlserve batch=8 ms_per_img=1 min_ms_per_img=1 peak_rss_mib=1\n" +
			"engine=mlserve batch=8 ms_per_img=44.22 min_ms_per_img=41.29 peak_rss_mib=221.3 lanes=2\n",
			result{ms: 44.22, minMs: 41.29, rssMiB: 221.3}, ""},
		{"no line", "enginebench: load x: no such file\n", result{}, "no result line"},
		{"bad number", "ms_per_img=abc min_ms_per_img=1 peak_rss_mib=1\n", result{}, "ms_per_img"},
		{"missing key", "ms_per_img=1 peak_rss_mib=1\n", result{}, "min_ms_per_img"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseResult(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseResult = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseProfile(t *testing.T) {
	in := `  batch 1                                op                                    name          output       ms  GFLOP/s
        0      Conv+BatchNormalization+Relu                    /conv1/Conv_output_0  [1 64 112 112]    2.819     83.7
        1                           MaxPool               /maxpool/MaxPool_output_0    [1 64 56 56]    0.344
       55                           Flatten                       /Flatten_output_0        [1 2048]    0.000
bench: something else 12 [x] y
        3  Conv  /c  [1 2]  notanumber
`
	ops, err := parseProfile(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []opTime{
		{0, "Conv+BatchNormalization+Relu", "/conv1/Conv_output_0", 2.819},
		{1, "MaxPool", "/maxpool/MaxPool_output_0", 0.344},
		{55, "Flatten", "/Flatten_output_0", 0},
	}
	if len(ops) != len(want) {
		t.Fatalf("got %d rows %+v, want %d", len(ops), ops, len(want))
	}
	for i := range want {
		if ops[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, ops[i], want[i])
		}
	}
}

func TestSummarize(t *testing.T) {
	rounds := [][]result{
		{{ms: 10, minMs: 9, rssMiB: 100}, {ms: 12, minMs: 8, rssMiB: 102}, {ms: 11, minMs: 9.5, rssMiB: 101}},
		{{ms: 9, minMs: 8.5, rssMiB: 90}, {ms: 13, minMs: 8.8, rssMiB: 91}, {ms: 10, minMs: 7, rssMiB: 92}},
	}
	got := summarize(rounds)
	want := []binSummary{{median: 11, min: 8, rss: 101}, {median: 10, min: 7, rss: 91, wins: 2, pairs: 3}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("bin %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of an even count = %v, want 2.5", m)
	}
	if m := median(nil); !math.IsNaN(m) {
		t.Errorf("median of none = %v, want NaN", m)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"/bin/a"}, "two or more"},
		{[]string{"-rounds", "0", "a", "b"}, "-rounds"},
		{[]string{"-batches", "1,x", "a", "b"}, "-batches"},
		{[]string{"-threads", "0", "a", "b"}, "-threads"},
		{[]string{"-models", " , ", "a", "b"}, "-models"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("run(%q) = %d, %q; want 2 and a message with %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

func TestBinNames(t *testing.T) {
	got := binNames([]string{"/tmp/a/eb", "/tmp/b/eb", "/x/eb-new"})
	want := []string{"eb#1", "eb#2", "eb-new"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("binNames = %q, want %q", got, want)
			break
		}
	}
}

// TestRealEngine builds enginebench and runs two copies of it on the mini
// fixture model with -profile: every case gets its table, every binary its
// row, and the per-op comparison names the model's ops.
func TestRealEngine(t *testing.T) {
	root, err := repoRoot(context.Background())
	if err != nil {
		t.Skip(err)
	}
	model := filepath.Join(root, "../shared/fixtures/models/mini-v2-opset11.onnx")
	if _, err := os.Stat(model); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fixture missing: %v", err)
		}
		t.Skip("fixtures not present")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "eb")
	build := exec.Command("go", "build", "-o", bin, "./bench/enginebench")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin2 := filepath.Join(dir, "eb-new")
	if err := os.Link(bin, bin2); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"-rounds", "2", "-models", model, "-batches", "1,2", "-threads", "1", "-iters", "3", "-warmup", "1", "-profile", "-top", "3", bin, bin2}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("abtest exit %d\nstderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"model mini-v2-opset11.onnx, threads 1, batch 1, 2 rounds",
		"model mini-v2-opset11.onnx, threads 1, batch 2, 2 rounds",
		"eb-new", "/2", "sum of per-op min", "ops that moved most, eb-new against eb", "Conv",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(stderr.String(), "abtest: round"); n != 2*2*2 {
		t.Errorf("%d progress lines, want 8 (2 rounds x 2 batches x 2 binaries):\n%s", n, stderr.String())
	}
	var bad bytes.Buffer
	if code := run(context.Background(), []string{"-rounds", "1", "-models", model, "-batches", "1", bin, "/nonexistent/eb"}, &bytes.Buffer{}, &bad); code != 1 ||
		!strings.Contains(bad.String(), "/nonexistent/eb") {
		t.Errorf("a missing binary: exit %d, %q; want 1 naming it", code, bad.String())
	}
}
