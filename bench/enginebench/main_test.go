package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/infer"
)

// fixtures is ../shared/fixtures relative to the repo root.
func fixtures(t *testing.T) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "..", "shared", "fixtures")
}

// fake is a classifier whose predictions come from reference outputs: item i
// of every Run gets the top-k of probabilities(ref row i mod rows).
type fake struct {
	size, classes int
	ref           []float32
	scale         float64 // multiplies every probability, to inject errors
	err           error
	calls         int
	gotLens       []int
}

func (f *fake) Info() infer.ModelInfo {
	return infer.ModelInfo{InputSize: f.size, Classes: f.classes}
}

func (f *fake) Run(ctx context.Context, inputs []*infer.Input, topK int) ([]infer.Result, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	rows := len(f.ref) / f.classes
	out := make([]infer.Result, len(inputs))
	for i, in := range inputs {
		f.gotLens = append(f.gotLens, len(in.Pixels))
		p, _ := probabilities(f.ref[(i%rows)*f.classes : (i%rows+1)*f.classes])
		idx := make([]int, len(p))
		for j := range idx {
			idx[j] = j
		}
		slices.SortFunc(idx, func(a, b int) int { return -cmpFloat(p[a], p[b]) })
		for k := range min(topK, len(idx)) {
			out[i].Predictions = append(out[i].Predictions, infer.Prediction{
				Rank: k + 1, ClassID: idx[k], Probability: p[idx[k]] * f.scale})
		}
	}
	return out, nil
}

func TestBenchFake(t *testing.T) {
	f := &fake{size: 8, classes: 3, ref: []float32{1, 2, 3}, scale: 1}
	o := options{model: "dir/m.onnx", warmup: 2, iters: 4}
	r, err := bench(context.Background(), f, o, 5)
	if err != nil {
		t.Fatal(err)
	}
	if f.calls != 6 || r.Iters != 4 || r.Batch != 5 || r.Warmup != 2 || r.Model != "m.onnx" || r.Engine != "mlserve" {
		t.Errorf("bench: %d calls, report %+v", f.calls, r)
	}
	for _, n := range f.gotLens {
		if n != 3*8*8 {
			t.Fatalf("input of %d pixels, want 3*8*8", n)
		}
	}
	f.err = errors.New("boom")
	if _, err := bench(context.Background(), f, o, 1); !errors.Is(err, f.err) {
		t.Errorf("bench with a failing engine: %v, want boom", err)
	}
}

func TestRunBatchChecksResults(t *testing.T) {
	in := []*infer.Input{{}, {}}
	tests := []struct {
		name string
		c    classifier
	}{
		{name: "short", c: resultsOf{infer.Result{}}},
		{name: "item error", c: resultsOf{infer.Result{}, infer.Result{Error: &infer.ErrorInfo{Code: "internal", Message: "x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := runBatch(context.Background(), tt.c, in); err == nil {
				t.Error("runBatch accepted bad results")
			}
		})
	}
}

type resultsOf []infer.Result

func (r resultsOf) Info() infer.ModelInfo { return infer.ModelInfo{} }
func (r resultsOf) Run(context.Context, []*infer.Input, int) ([]infer.Result, error) {
	return r, nil
}

func TestVerifyFake(t *testing.T) {
	fx := fixtures(t)
	ref, err := readF32(filepath.Join(fx, "models", "mini-v1.out-b4.f32"), 4*1000)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		scale   float64
		wantErr bool
	}{
		{name: "exact", scale: 1},
		{name: "within tolerance", scale: 1 + 1e-4},
		{name: "off by 1%", scale: 1.01, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{size: 224, classes: 1000, ref: ref, scale: tt.scale}
			o := options{
				model:        filepath.Join(fx, "models", "mini-v1-opset11.onnx"),
				verifyInput:  filepath.Join(fx, "models", "input-b4.f32"),
				verifyOutput: filepath.Join(fx, "models", "mini-v1.out-b4.f32"),
				tol:          1e-3,
			}
			line, err := verify(context.Background(), f, o)
			if (err != nil) != tt.wantErr {
				t.Fatalf("verify: %v (line %q), want error %v", err, line, tt.wantErr)
			}
			want := " ok "
			if tt.wantErr {
				want = " FAIL "
			}
			if !strings.HasPrefix(line, "verify engine=mlserve batch=4 ") || !strings.Contains(line, want) {
				t.Errorf("verify line %q, want it to say%q", line, want)
			}
		})
	}
}

func TestProbabilities(t *testing.T) {
	tests := []struct {
		name string
		in   []float32
		want []float64
	}{
		{name: "logits", in: []float32{0, 0}, want: []float64{0.5, 0.5}},
		{name: "large logits", in: []float32{1000, 1000}, want: []float64{0.5, 0.5}},
		{name: "already probabilities", in: []float32{0.25, 0.75}, want: []float64{0.25, 0.75}},
		{name: "negative sums to one", in: []float32{-1, 2}, want: []float64{0.047425873, 0.952574127}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := probabilities(tt.in)
			for i := range got {
				// 1e-7: the wanted values are printed to 9 digits.
				if math.Abs(got[i]-tt.want[i]) > 1e-7*tt.want[i] {
					t.Fatalf("probabilities(%v) = %v, want %v", tt.in, got, tt.want)
				}
			}
		})
	}
}

func TestReferenceFor(t *testing.T) {
	tests := map[string]string{
		"../m/resnet50-opset11.onnx":          "../m/resnet50.out-b4.f32",
		"mini-v1-softmax-opset13-folded.onnx": "mini-v1-softmax.out-b4.f32",
		"/abs/zoo-v2-opset7.onnx":             "/abs/zoo-v2.out-b4.f32",
		"plain.onnx":                          "plain.out-b4.f32",
	}
	for in, want := range tests {
		if got := referenceFor(in); got != want {
			t.Errorf("referenceFor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{name: "help", args: []string{"-h"}, code: 0},
		{name: "unknown flag", args: []string{"-nope"}, code: 2},
		{name: "bad batch", args: []string{"-batch", "0"}, code: 2},
		{name: "missing model", args: []string{"-batch", "1", "-model", "/nonexistent.onnx"}, code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Errorf("run(%q) = %d, want %d; stderr %s", tt.args, code, tt.code, errb.String())
			}
		})
	}
}

// TestRealEngine measures and verifies the real engine on the mini model.
func TestRealEngine(t *testing.T) {
	fx := fixtures(t)
	model := filepath.Join(fx, "models", "mini-v1-opset11.onnx")
	c, err := infer.LoadFile(model, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := options{
		model: model, warmup: 1, iters: 3,
		verifyInput:  filepath.Join(fx, "models", "input-b4.f32"),
		verifyOutput: referenceFor(model),
		tol:          1e-3,
	}
	line, err := verify(context.Background(), c, o)
	if err != nil {
		t.Fatalf("verify: %v (%s)", err, line)
	}
	t.Log(line)
	r, err := bench(context.Background(), c, o, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Iters != 3 || !(r.MsPerImg > 0) || r.MinMs > r.MsPerImg {
		t.Errorf("bench report %+v", r)
	}
}

// TestBinary builds enginebench and runs it as bench.sh does: one process
// per batch size, one line each, with its own peak RSS.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	fx := fixtures(t)
	model := filepath.Join(fx, "models", "mini-v1-opset11.onnx")
	bin := filepath.Join(t.TempDir(), "enginebench")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-model", model, "-batch", "1,2", "-warmup", "1", "-iters", "3", "-max-time", "10s")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out)
	}
	for i, l := range lines {
		m := lineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q does not match %s", l, lineRE)
		}
		if m[1] != "mlserve" || m[2] != strconv.Itoa(i+1) || m[10] != "mini-v1-opset11.onnx" {
			t.Errorf("line %q: want engine mlserve, batch %d, the mini model", l, i+1)
		}
		if rss, _ := strconv.ParseFloat(m[5], 64); rss <= 0 {
			t.Errorf("line %q: no peak RSS", l)
		}
	}
	t.Logf("%s", out)
}

func TestCompareTopK(t *testing.T) {
	pred := func(ps ...any) infer.Result {
		var r infer.Result
		for i := 0; i < len(ps); i += 2 {
			r.Predictions = append(r.Predictions, infer.Prediction{Rank: i/2 + 1, ClassID: ps[i].(int), Probability: ps[i+1].(float64)})
		}
		return r
	}
	// Saturated logits like the random-weight ResNet-50's: softmax gives
	// 1, 1.7e-22, 7e-36, so float32 probabilities past rank 1 are 0.
	saturated := []float32{885, 834.8, 804, 0}
	// Already probabilities, with a near-tie between classes 1 and 2.
	probs := []float32{0.5, 0.2500001, 0.25, 0}
	tests := []struct {
		name      string
		res       infer.Result
		ref       []float32
		wantWorst float64 // upper bound
		wantErr   bool
	}{
		{name: "saturated", res: pred(0, 1.0, 1, 0.0, 2, 0.0), ref: saturated, wantWorst: 1e-9},
		{name: "saturated wrong rank 2", res: pred(0, 1.0, 2, 0.0, 1, 0.0), ref: saturated, wantErr: true},
		// exp(-13.3) = 1.67e-6, which a Result rounds to 2e-6.
		{name: "rounded to 6 decimals", res: pred(0, 0.999998, 1, 0.000002), ref: []float32{0, -13.3}, wantWorst: 1e-9},
		{name: "logits off", res: pred(0, 0.9), ref: []float32{1, 0}, wantWorst: 0.25},
		{name: "probabilities", res: pred(0, 0.5, 1, 0.25, 2, 0.25), ref: probs, wantWorst: 1e-6},
		{name: "probabilities near-tie swapped", res: pred(0, 0.5, 2, 0.25, 1, 0.25), ref: probs, wantWorst: 1e-6},
		{name: "class out of range", res: pred(7, 0.5), ref: probs, wantErr: true},
		{name: "no predictions", res: infer.Result{}, ref: probs, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			worst, err := compareTopK([]infer.Result{tt.res}, tt.ref, len(tt.ref))
			if (err != nil) != tt.wantErr {
				t.Fatalf("compareTopK: %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && worst > tt.wantWorst {
				t.Errorf("compareTopK worst = %g, want <= %g", worst, tt.wantWorst)
			}
		})
	}
}
