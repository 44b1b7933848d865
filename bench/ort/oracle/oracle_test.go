// Package oracle holds tests only: ONNX Runtime as the reference for
// mlserve's engine on models crafted node by node (model_test.go), one
// operator attribute at a time, where the torch fixtures have no example
// (they all use BatchNormalization epsilon 1e-5, symmetric pads, ...).
//
// It needs ONNX Runtime's shared library from npm (make bench-test installs
// it); without it the tests skip, or fail when CI is set.
package oracle

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// parityLimit is mlserve's parity limit against a reference engine
// (internal/infer/tolerance_test.go: relative L2 1e-6, measured 5.6e-7 on
// ResNet-50); these small graphs measure 0 to 1.3e-7 against ONNX Runtime.
const parityLimit = 1e-6

var ortErr error // why ONNX Runtime is not available, nil when it is

func TestMain(m *testing.M) {
	arch := strings.Replace(runtime.GOARCH, "amd64", "x64", 1)
	lib := filepath.Join("..", "node_modules", "onnxruntime-node", "bin", "napi-v6", "linux", arch, "libonnxruntime.so.1")
	if _, err := os.Stat(lib); err != nil {
		ortErr = fmt.Errorf("ONNX Runtime library missing (make bench-test, or cd bench/ort && npm ci --ignore-scripts): %w", err)
	} else {
		ort.SetSharedLibraryPath(lib)
		ortErr = ort.InitializeEnvironment(ort.WithLogLevelError())
	}
	code := m.Run()
	if ortErr == nil {
		ort.DestroyEnvironment() //nolint:errcheck // exiting
	}
	os.Exit(code)
}

func needORT(t *testing.T) {
	t.Helper()
	if ortErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(ortErr)
		}
		t.Skip(ortErr)
	}
}

// runORT runs the model on input [n,3,size,size] with ONNX Runtime.
func runORT(t *testing.T, onnx []byte, input []float32, n, size int64) []float32 {
	t.Helper()
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(onnx, []string{"data"}, []string{"out"}, nil)
	if err != nil {
		t.Fatalf("onnxruntime: load: %v", err)
	}
	defer s.Destroy()
	in, err := ort.NewTensor(ort.NewShape(n, 3, size, size), input)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		t.Fatalf("onnxruntime: run: %v", err)
	}
	defer outs[0].Destroy()
	out, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		t.Fatalf("onnxruntime output is %T", outs[0])
	}
	return append([]float32(nil), out.GetData()...)
}

// runMLServe runs the model on the same input with mlserve's engine, one
// batch of n.
func runMLServe(t *testing.T, onnx []byte, input []float32, n, size int) ([]float32, error) {
	t.Helper()
	c, err := infer.LoadBytes(onnx, infer.Options{Name: "oracle"})
	if err != nil {
		return nil, err
	}
	per := 3 * size * size
	px := make([][]float32, n)
	for i := range px {
		px[i] = input[i*per : (i+1)*per]
	}
	rows, err := c.Logits(context.Background(), px)
	if err != nil {
		t.Fatalf("mlserve: run: %v", err)
	}
	var got []float32
	for _, r := range rows {
		got = append(got, r...)
	}
	return got, nil
}

// rnd returns n values, uniform in [lo, hi), from a seed of its own.
func rnd(seed uint64, n int, lo, hi float32) []float32 {
	r := rand.New(rand.NewPCG(seed, 99))
	out := make([]float32, n)
	for i := range out {
		out[i] = lo + (hi-lo)*r.Float32()
	}
	return out
}

// oracleCase is a crafted model; unsupported, if set, is the load error
// mlserve may give instead of an answer (an attribute it refuses by name).
type oracleCase struct {
	name        string
	m           model
	unsupported string
}

// check runs c on both engines at batch 2 and compares.
func check(t *testing.T, c oracleCase) {
	t.Helper()
	needORT(t)
	onnx := c.m.Encode()
	const n = 2
	input := rnd(1, n*3*int(c.m.Size*c.m.Size), -2, 2)
	want := runORT(t, onnx, input, n, c.m.Size)
	got, err := runMLServe(t, onnx, input, n, int(c.m.Size))
	if err != nil {
		var le *infer.LoadError
		if c.unsupported != "" && errors.As(err, &le) && strings.Contains(err.Error(), c.unsupported) {
			t.Logf("mlserve refuses it, as it should if unsupported: %v", err)
			return
		}
		t.Fatalf("mlserve: load: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("mlserve gives %d values, onnxruntime %d", len(got), len(want))
	}
	e := testsupport.RelL2(got, want)
	t.Logf("relative L2 against onnxruntime: %.3g (%d values)", e, len(want))
	if !(e < parityLimit) {
		t.Errorf("relative L2 %.3g against onnxruntime, want < %g", e, parityLimit)
	}
}

func formatFloat(v float32) string { return fmt.Sprintf("%g", v) }

// The model builder is testsupport's (onnxmodel.go), shared with
// internal/infer's own reference tests.
type (
	attr   = testsupport.Attr
	node   = testsupport.Node
	tensor = testsupport.Tensor
	model  = testsupport.Model
)

var (
	aInt    = testsupport.AInt
	aFloat  = testsupport.AFloat
	aInts   = testsupport.AInts
	newNode = testsupport.NewNode
)
