// Command ortbench measures ONNX Runtime on an image classifier, the anchor
// mlserve's own engine is compared against (see bench/bench.sh).
//
// It loads the model with 2 intra-op threads (one per core of the reference
// machine), runs warm-up and then timed batches of random normalized pixels,
// and prints one line per batch size:
//
//	engine=ort batch=1 ms_per_img=30.81 min_ms_per_img=30.02 peak_rss_mib=304.1 load_ms=820 iters=10 warmup=3 threads=2 model=resnet50-opset11.onnx
//
// With several batch sizes each runs in a fresh process, so peak RSS (VmHWM)
// is per batch size. -verify instead runs the fixture batch input-b4.f32 and
// checks the logits against the PyTorch reference (relative L2), which shows
// the anchor computes the right thing.
//
// The shared library comes from the npm package onnxruntime-node (pinned in
// package.json): npm i --ignore-scripts in bench/ort.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// Defaults are relative to the mlserve repo root (resolved from any
// directory below it).
const (
	defaultModel = "../shared/fixtures/models/resnet50-opset11.onnx"
	defaultInput = "../shared/fixtures/models/input-b4.f32"
)

// defaultLib is the npm package's library for this CPU (linux/x64 or
// linux/arm64).
var defaultLib = "bench/ort/node_modules/onnxruntime-node/bin/napi-v6/linux/" +
	strings.Replace(runtime.GOARCH, "amd64", "x64", 1) + "/libonnxruntime.so.1"

type options struct {
	model, lib   string
	batches      string
	threads      int
	warmup       int
	iters        int
	maxTime      time.Duration
	verify       bool
	verifyInput  string
	verifyOutput string
	tol          float64
}

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ortbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.model, "model", defaultModel, "ONNX model file")
	fs.StringVar(&o.lib, "lib", defaultLib, "ONNX Runtime shared library (libonnxruntime.so)")
	fs.StringVar(&o.batches, "batch", "1,8", "comma-separated batch sizes, each measured in a fresh process")
	fs.IntVar(&o.threads, "threads", 2, "intra-op threads")
	fs.IntVar(&o.warmup, "warmup", 3, "untimed warm-up runs")
	fs.IntVar(&o.iters, "iters", 10, "timed runs (at most)")
	fs.DurationVar(&o.maxTime, "max-time", 30*time.Second, "stop timing after this long (but after at least 3 runs)")
	fs.BoolVar(&o.verify, "verify", false, "check the logits on -verify-input against -verify-output instead of timing")
	fs.StringVar(&o.verifyInput, "verify-input", defaultInput, "raw float32 input batch [4,3,224,224] for -verify")
	fs.StringVar(&o.verifyOutput, "verify-output", "", "raw float32 reference logits [4,classes] for -verify (default: <model name>.out-b4.f32 next to the model)")
	// 1e-5: what a correct float32 engine reaches on these fixtures
	// (shared/fixtures/README.md; ONNX Runtime lands near 1e-6).
	fs.Float64Var(&o.tol, "tol", 1e-5, "largest relative L2 error -verify accepts")
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
	if !set["lib"] {
		o.lib = defaultPath(o.lib)
	}
	if !set["verify-input"] {
		o.verifyInput = defaultPath(o.verifyInput)
	}
	if o.verifyOutput == "" {
		o.verifyOutput = referenceFor(o.model)
	}
	batches, err := parseBatches(o.batches)
	if err != nil {
		fmt.Fprintf(stderr, "ortbench: %v\n", err)
		return 2
	}
	if !o.verify && len(batches) > 1 {
		// One process per batch size; the children get the same flags.
		var fwd []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "batch" {
				fwd = append(fwd, "-"+f.Name+"="+f.Value.String())
			}
		})
		if err := runEach(batches, fwd); err != nil {
			fmt.Fprintf(stderr, "ortbench: %v\n", err)
			return 1
		}
		return 0
	}

	if _, err := os.Stat(o.lib); err != nil {
		fmt.Fprintf(stderr, "ortbench: %v (install it: cd bench/ort && npm ci --ignore-scripts)\n", err)
		return 1
	}
	ort.SetSharedLibraryPath(o.lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		fmt.Fprintf(stderr, "ortbench: init onnxruntime %s: %v\n", o.lib, err)
		return 1
	}
	defer ort.DestroyEnvironment()

	if o.verify {
		line, err := verify(o)
		if line != "" {
			fmt.Fprintln(stdout, line)
		}
		if err != nil {
			fmt.Fprintf(stderr, "ortbench: %v\n", err)
			return 1
		}
		return 0
	}
	r, err := bench(o, batches[0])
	if err != nil {
		fmt.Fprintf(stderr, "ortbench: %v\n", err)
		return 1
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

// ioInfo describes the model's first input and output as read from a session.
type ioInfo struct {
	in, out ort.InputOutputInfo
}

// probe reads the input and output names and shapes. onnxruntime_go only
// exposes them through a temporary session; it is made without graph
// optimizations or memory arena, to be cheap, and released before the
// measured session is made.
func probe(model string) (ioInfo, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return ioInfo{}, fmt.Errorf("session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
		return ioInfo{}, fmt.Errorf("probe options: %w", err)
	}
	if err := so.SetCpuMemArena(false); err != nil {
		return ioInfo{}, fmt.Errorf("probe options: %w", err)
	}
	ins, outs, err := ort.GetInputOutputInfoWithOptions(model, so)
	if err != nil {
		return ioInfo{}, fmt.Errorf("read inputs of %s: %w", model, err)
	}
	if len(ins) < 1 || len(outs) < 1 {
		return ioInfo{}, fmt.Errorf("%s: %d inputs and %d outputs, want at least one of each", model, len(ins), len(outs))
	}
	for _, v := range []ort.InputOutputInfo{ins[0], outs[0]} {
		if v.OrtValueType != ort.ONNXTypeTensor || v.DataType != ort.TensorElementDataTypeFloat {
			return ioInfo{}, fmt.Errorf("%s: %s, want a float32 tensor", model, &v)
		}
	}
	return ioInfo{in: ins[0], out: outs[0]}, nil
}

// batchShape is dims with the batch axis set to n; ok is false when another
// axis is symbolic.
func batchShape(dims ort.Shape, n int) (ort.Shape, bool) {
	s := dims.Clone()
	if len(s) == 0 {
		return s, false
	}
	s[0] = int64(n)
	for _, d := range s[1:] {
		if d < 1 {
			return s, false
		}
	}
	return s, true
}

func newSession(o options, info ioInfo) (*ort.DynamicAdvancedSession, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(o.threads); err != nil {
		return nil, fmt.Errorf("intra-op threads: %w", err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("inter-op threads: %w", err)
	}
	if err := so.SetExecutionMode(ort.ExecutionModeSequential); err != nil {
		return nil, fmt.Errorf("execution mode: %w", err)
	}
	s, err := ort.NewDynamicAdvancedSession(o.model, []string{info.in.Name}, []string{info.out.Name}, so)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", o.model, err)
	}
	return s, nil
}

// session holds a loaded model with input and output tensors for one batch size.
type session struct {
	s   *ort.DynamicAdvancedSession
	in  *ort.Tensor[float32]
	out ort.Value // nil: ONNX Runtime allocates it on every run
}

func (s *session) run() error {
	outs := []ort.Value{s.out}
	if err := s.s.Run([]ort.Value{s.in}, outs); err != nil {
		return err
	}
	if s.out == nil {
		return outs[0].Destroy()
	}
	return nil
}

func (s *session) destroy() {
	s.in.Destroy()
	if s.out != nil {
		s.out.Destroy()
	}
	s.s.Destroy()
}

// open probes the model, forgets the probe's peak memory and loads the
// measured session with tensors for batch size n; it returns the load time
// of the measured session.
func open(o options, n int) (*session, time.Duration, error) {
	info, err := probe(o.model)
	if err != nil {
		return nil, 0, err
	}
	inShape, ok := batchShape(info.in.Dimensions, n)
	if !ok {
		return nil, 0, fmt.Errorf("input %s: only the batch axis may be symbolic", &info.in)
	}
	// The probe's freed memory stays in the C heap, and whether the
	// measured session reuses it depends on which malloc arena its threads
	// get (with a default-options probe, ResNet-50 at batch 1 peaked at
	// either 326 or 606 MiB). Trim the heap and restart the peak so only
	// the measured session counts; peaks then match a run without probe.
	releaseFreeMemory()
	if err := resetPeakRSS(); err != nil {
		fmt.Fprintf(os.Stderr, "ortbench: warning: %v; peak RSS includes the probe session\n", err)
	}
	t := time.Now()
	s, err := newSession(o, info)
	if err != nil {
		return nil, 0, err
	}
	load := time.Since(t)
	in, err := ort.NewEmptyTensor[float32](inShape)
	if err != nil {
		s.Destroy()
		return nil, 0, fmt.Errorf("input tensor %v: %w", inShape, err)
	}
	sess := &session{s: s, in: in}
	if outShape, ok := batchShape(info.out.Dimensions, n); ok {
		out, err := ort.NewEmptyTensor[float32](outShape)
		if err != nil {
			sess.destroy()
			return nil, 0, fmt.Errorf("output tensor %v: %w", outShape, err)
		}
		sess.out = out
	}
	return sess, load, nil
}

func bench(o options, n int) (report, error) {
	s, load, err := open(o, n)
	if err != nil {
		return report{}, err
	}
	defer s.destroy()
	randomPixels(s.in.GetData(), uint64(n))
	ds, err := timeRuns(s.run, o.warmup, o.iters, o.maxTime)
	if err != nil {
		return report{}, fmt.Errorf("batch %d: %w", n, err)
	}
	rss, err := peakRSS()
	if err != nil {
		return report{}, err
	}
	med, lo := median(ds)
	return report{
		Engine: "ort", Model: filepath.Base(o.model), Batch: n, Threads: o.threads,
		Warmup: o.warmup, Iters: len(ds), MsPerImg: msPer(med, n), MinMs: msPer(lo, n),
		LoadMs: msPer(load, 1), PeakRSS: rss,
	}, nil
}

// verify runs the fixture batch and compares the logits with the reference.
// It returns the result line and an error when the error exceeds o.tol.
func verify(o options) (string, error) {
	const n = 4 // the fixtures' batch: input-b4.f32, <name>.out-b4.f32
	s, _, err := open(o, n)
	if err != nil {
		return "", err
	}
	defer s.destroy()
	in := s.in.GetData()
	x, err := readF32(o.verifyInput, len(in))
	if err != nil {
		return "", err
	}
	copy(in, x)
	outs := []ort.Value{s.out}
	if err := s.s.Run([]ort.Value{s.in}, outs); err != nil {
		return "", fmt.Errorf("run %s: %w", o.verifyInput, err)
	}
	if s.out == nil {
		defer outs[0].Destroy()
	}
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return "", fmt.Errorf("output is %T, want a float32 tensor", outs[0])
	}
	got := t.GetData()
	want, err := readF32(o.verifyOutput, len(got))
	if err != nil {
		return "", err
	}
	e := relL2(got, want)
	verdict := "ok"
	if !(e <= o.tol) {
		verdict = "FAIL"
	}
	line := fmt.Sprintf("verify engine=ort batch=%d rel_l2=%.3g tol=%g %s model=%s reference=%s onnxruntime=%s",
		n, e, o.tol, verdict, filepath.Base(o.model), filepath.Base(o.verifyOutput), ort.GetVersion())
	if verdict != "ok" {
		return line, fmt.Errorf("relative L2 error %.3g against %s exceeds %g", e, o.verifyOutput, o.tol)
	}
	return line, nil
}
