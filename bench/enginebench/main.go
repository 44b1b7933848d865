// Command enginebench measures mlserve's engine (internal/infer) the way
// bench/ort/cmd/ortbench measures ONNX Runtime, and prints the same line per
// batch size, so bench/bench.sh can put the two side by side:
//
//	engine=mlserve batch=1 ms_per_img=95.20 min_ms_per_img=93.10 peak_rss_mib=410.3 load_ms=2100 iters=10 warmup=3 threads=2 model=resnet50-opset11.onnx
//
// It loads the model with infer.LoadFile, makes n inputs of random normalized
// pixels and times Classifier.Run with top-5. With several batch sizes each
// runs in a fresh process, so peak RSS (VmHWM) is per batch size. -verify
// instead runs the fixture batch input-b4.f32 and checks the top-5
// probabilities against the softmax of the PyTorch reference logits.
//
// It is pure Go: go build ./bench/enginebench works with CGO_ENABLED=0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mlserve/mlserve/internal/infer"
)

// Defaults are relative to the mlserve repo root (resolved from any
// directory below it).
const (
	defaultModel = "../shared/fixtures/models/resnet50-opset11.onnx"
	defaultInput = "../shared/fixtures/models/input-b4.f32"
	topK         = 5
)

// classifier is the part of *infer.Classifier the benchmark uses.
type classifier interface {
	Run(ctx context.Context, inputs []*infer.Input, topK int) ([]infer.Result, error)
	Info() infer.ModelInfo
}

var _ classifier = (*infer.Classifier)(nil)

type options struct {
	model        string
	batches      string
	threads      int
	lanes        int
	warmup       int
	iters        int
	maxTime      time.Duration
	verify       bool
	verifyInput  string
	verifyOutput string
	tol          float64
	profile      bool
}

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("enginebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.model, "model", defaultModel, "ONNX model file")
	fs.StringVar(&o.batches, "batch", "1,8", "comma-separated batch sizes, each measured in a fresh process")
	fs.IntVar(&o.threads, "threads", 2, "GOMAXPROCS")
	fs.IntVar(&o.lanes, "lanes", 1, "engine lanes (infer.Options.Lanes): sub-batches run at once, single-threaded when every lane is busy")
	fs.IntVar(&o.warmup, "warmup", 3, "untimed warm-up runs")
	fs.IntVar(&o.iters, "iters", 10, "timed runs (at most)")
	fs.DurationVar(&o.maxTime, "max-time", 30*time.Second, "stop timing after this long (but after at least 3 runs)")
	fs.BoolVar(&o.verify, "verify", false, "check the top-5 on -verify-input against -verify-output instead of timing")
	fs.StringVar(&o.verifyInput, "verify-input", defaultInput, "raw float32 input batch [4,3,224,224] for -verify")
	fs.StringVar(&o.verifyOutput, "verify-output", "", "raw float32 reference logits [4,classes] for -verify (default: <model name>.out-b4.f32 next to the model)")
	// 1e-3 relative: a correct float32 engine is within 1e-5 relative L2 of
	// the reference logits (shared/fixtures/README.md); with logits of
	// magnitude ~10 that moves a softmax probability by ~1e-4 relative.
	fs.Float64Var(&o.tol, "tol", 1e-3, "largest relative error of a top-5 probability -verify accepts")
	fs.BoolVar(&o.profile, "profile", false, "print the engine's per-op times and GFLOP/s to stderr after every run")
	return fs
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["model"] {
		o.model = defaultPath(o.model)
	}
	if !set["verify-input"] {
		o.verifyInput = defaultPath(o.verifyInput)
	}
	if o.verifyOutput == "" {
		o.verifyOutput = referenceFor(o.model)
	}
	batches, err := parseBatches(o.batches)
	if err != nil {
		fmt.Fprintf(stderr, "enginebench: %v\n", err)
		return 2
	}
	if !o.verify && len(batches) > 1 {
		var fwd []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "batch" {
				fwd = append(fwd, "-"+f.Name+"="+f.Value.String())
			}
		})
		if err := runEach(batches, fwd); err != nil {
			fmt.Fprintf(stderr, "enginebench: %v\n", err)
			return 1
		}
		return 0
	}
	if o.threads > 0 {
		runtime.GOMAXPROCS(o.threads)
	}
	ctx := context.Background()
	n := batches[0]
	if o.verify {
		n = 4 // the fixtures' batch: input-b4.f32, <name>.out-b4.f32
	}
	t := time.Now()
	// MaxBatch: never split the measured batch (the default of 32 would
	// split larger ones).
	lo := infer.Options{MaxBatch: max(n, 32), Lanes: o.lanes}
	if o.profile {
		lo.Profile = stderr
	}
	c, err := infer.LoadFile(o.model, lo)
	if err != nil {
		fmt.Fprintf(stderr, "enginebench: load %s: %v\n", o.model, err)
		return 1
	}
	load := time.Since(t)

	if o.verify {
		line, err := verify(ctx, c, o)
		if line != "" {
			fmt.Fprintln(stdout, line)
		}
		if err != nil {
			fmt.Fprintf(stderr, "enginebench: %v\n", err)
			return 1
		}
		return 0
	}
	r, err := bench(ctx, c, o, n)
	if err != nil {
		fmt.Fprintf(stderr, "enginebench: %v\n", err)
		return 1
	}
	r.LoadMs = msPer(load, 1)
	if r.PeakRSS, err = peakRSS(); err != nil {
		fmt.Fprintf(stderr, "enginebench: %v\n", err)
		return 1
	}
	if o.lanes > 1 {
		fmt.Fprintf(stdout, "%v lanes=%d\n", r, o.lanes)
		return 0
	}
	fmt.Fprintln(stdout, r)
	return 0
}

// referenceFor names the fixture logits of a model file:
// dir/resnet50-opset11.onnx -> dir/resnet50.out-b4.f32.
func referenceFor(model string) string {
	base := strings.TrimSuffix(filepath.Base(model), filepath.Ext(model))
	if i := strings.Index(base, "-opset"); i > 0 {
		base = base[:i]
	}
	return filepath.Join(filepath.Dir(model), base+".out-b4.f32")
}

// inputSize is the model's square input side, 224 when it does not say.
func inputSize(c classifier) int {
	if s := c.Info().InputSize; s > 0 {
		return s
	}
	return 224
}

// runBatch runs inputs and checks every item got predictions.
func runBatch(ctx context.Context, c classifier, inputs []*infer.Input) ([]infer.Result, error) {
	res, err := c.Run(ctx, inputs, topK)
	if err != nil {
		return nil, err
	}
	if len(res) != len(inputs) {
		return nil, fmt.Errorf("%d results for %d inputs", len(res), len(inputs))
	}
	for i, r := range res {
		if r.Error != nil {
			return nil, fmt.Errorf("item %d: %s: %s", i, r.Error.Code, r.Error.Message)
		}
	}
	return res, nil
}

// bench times batches of n random inputs; the caller fills in load time and
// peak RSS.
func bench(ctx context.Context, c classifier, o options, n int) (report, error) {
	size := inputSize(c)
	inputs := make([]*infer.Input, n)
	for i := range inputs {
		inputs[i] = &infer.Input{Pixels: make([]float32, 3*size*size)}
		randomPixels(inputs[i].Pixels, uint64(i))
	}
	ds, err := timeRuns(func() error {
		_, err := runBatch(ctx, c, inputs)
		return err
	}, o.warmup, o.iters, o.maxTime)
	if err != nil {
		return report{}, fmt.Errorf("batch %d: %w", n, err)
	}
	med, lo := median(ds)
	return report{
		Engine: "mlserve", Model: filepath.Base(o.model), Batch: n, Threads: runtime.GOMAXPROCS(0),
		Warmup: o.warmup, Iters: len(ds), MsPerImg: msPer(med, n), MinMs: msPer(lo, n),
	}, nil
}

// verify runs the fixture batch and compares each top-k probability with the
// reference's. It returns the result line, and an error when the largest
// relative error exceeds o.tol.
func verify(ctx context.Context, c classifier, o options) (string, error) {
	const n = 4
	size := inputSize(c)
	per := 3 * size * size
	x, err := readF32(o.verifyInput, n*per)
	if err != nil {
		return "", err
	}
	inputs := make([]*infer.Input, n)
	for i := range inputs {
		inputs[i] = &infer.Input{Pixels: x[i*per : (i+1)*per]}
	}
	res, err := runBatch(ctx, c, inputs)
	if err != nil {
		return "", fmt.Errorf("run %s: %w", o.verifyInput, err)
	}
	classes := c.Info().Classes
	if classes <= 0 {
		classes = 1000
	}
	ref, err := readF32(o.verifyOutput, n*classes)
	if err != nil {
		return "", err
	}
	worst, err := compareTopK(res, ref, classes)
	verdict := "ok"
	if err == nil && !(worst <= o.tol) {
		err = fmt.Errorf("top-%d probability off by %.3g relative against %s, more than %g", topK, worst, o.verifyOutput, o.tol)
	}
	if err != nil {
		verdict = "FAIL"
	}
	line := fmt.Sprintf("verify engine=mlserve batch=%d max_prob_rel_err=%.3g tol=%g %s model=%s reference=%s",
		n, worst, o.tol, verdict, filepath.Base(o.model), filepath.Base(o.verifyOutput))
	return line, err
}

// compareTopK checks results against reference outputs [len(res), classes]
// (logits, or probabilities if every row already sums to 1). Each prediction
// must carry its class's reference probability, and the k-th prediction's
// probability must be the k-th largest reference probability, which allows
// near-ties to swap. Probabilities saturate (the random-weight ResNet-50's
// logits reach 885, so ranks 2-5 are 1e-22 and below), so with logits the
// k-th prediction's reference logit must also be the k-th largest, within
// 1e-4 of the largest magnitude: 10x what a 1e-5 relative L2 error allows.
// It returns the largest relative probability error.
func compareTopK(res []infer.Result, ref []float32, classes int) (float64, error) {
	worst := 0.0
	for i, r := range res {
		row := ref[i*classes : (i+1)*classes]
		p, isProb := probabilities(row)
		byProb := sortedDesc(p)
		logits := make([]float64, len(row))
		scale := 0.0
		for j, v := range row {
			logits[j] = float64(v)
			scale = max(scale, math.Abs(logits[j]))
		}
		byLogit := sortedDesc(logits)
		if len(r.Predictions) == 0 || len(r.Predictions) > classes {
			return worst, fmt.Errorf("item %d: %d predictions", i, len(r.Predictions))
		}
		for k, pr := range r.Predictions {
			if pr.ClassID < 0 || pr.ClassID >= classes {
				return worst, fmt.Errorf("item %d rank %d: class %d out of range", i, k+1, pr.ClassID)
			}
			worst = max(worst, probErr(pr.Probability, p[pr.ClassID]), probErr(pr.Probability, byProb[k]))
			if d := math.Abs(logits[pr.ClassID] - byLogit[k]); !isProb && d > 1e-4*scale {
				return worst, fmt.Errorf("item %d rank %d: class %d has reference logit %g, rank %d's is %g",
					i, k+1, pr.ClassID, logits[pr.ClassID], k+1, byLogit[k])
			}
		}
	}
	return worst, nil
}

func sortedDesc(x []float64) []float64 {
	s := slices.Clone(x)
	slices.SortFunc(s, func(a, b float64) int { return -cmpFloat(a, b) })
	return s
}

// probErr is how far got is from want, relative to want (or to 1e-6 for
// smaller ones), after allowing for Results rounding probabilities to 6
// decimals: half a unit of the 6th decimal is not an error.
func probErr(got, want float64) float64 {
	d := math.Abs(got-want) - 0.5e-6 - 1e-12 // 1e-12: float64 slack of the rounding
	if d <= 0 {
		return 0
	}
	return d / max(math.Abs(want), 1e-6)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// probabilities returns row as probabilities: softmax of logits, or row itself
// (isProb) when it is already a distribution (a model ending in Softmax).
func probabilities(row []float32) (p []float64, isProb bool) {
	p = make([]float64, len(row))
	sum, hi, neg := 0.0, math.Inf(-1), false
	for i, v := range row {
		p[i] = float64(v)
		sum += p[i]
		hi = max(hi, p[i])
		neg = neg || v < 0
	}
	if !neg && math.Abs(sum-1) < 1e-3 {
		return p, true
	}
	sum = 0
	for i := range p {
		p[i] = math.Exp(p[i] - hi)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p, false
}
