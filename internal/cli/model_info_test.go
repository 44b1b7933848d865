package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/onnx/onnxtest"
	"github.com/mlserve/mlserve/internal/testsupport"
)

func TestModelInfo(t *testing.T) {
	zoo := testsupport.Fixtures(t, "models/zoo-v2-opset7.onnx")
	code, out, errOut := runCLI(t, nil, "model", "info", zoo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// zoo-like.json: opset 7; the IR-3 file lists every initializer as an
	// input too, and info shows only the real one.
	for _, want := range []string{"opset:       7", "input:       data float32 [N,3,224,224]", "Conv x13", "parameters:  163748"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, nil, "model", "info", "--json", zoo)
	var d struct {
		Opsets    map[string]int64 `json:"opsets"`
		Operators map[string]int   `json:"operators"`
	}
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Opsets[""] != 7 || d.Operators["Gemm"] != 1 {
		t.Errorf("exit %d, %v: %s", code, err, out)
	}

	bad := filepath.Join(t.TempDir(), "bad.onnx")
	if err := os.WriteFile(bad, []byte{0x0a, 0xff, 0xff}, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, nil, "model", "info", bad); code != ExitFailure || !strings.Contains(errOut, "malformed ONNX model") {
		t.Errorf("corrupt model: exit %d, stderr %q", code, errOut)
	}
}

func TestModelInfoRuns(t *testing.T) {
	fixtures := testsupport.Fixtures(t)
	// mobilenetv3 with two operators renamed: info names both.
	data, err := os.ReadFile(filepath.Join(fixtures, "families/mobilenetv3-opset17.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("\x22\x09HardSwish"), []byte("\x22\x09HardSwash"))
	data = bytes.ReplaceAll(data, []byte("\x22\x0bHardSigmoid"), []byte("\x22\x0bHardSigmoix"))
	renamed := filepath.Join(t.TempDir(), "renamed.onnx")
	if err := os.WriteFile(renamed, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ file, want string }{
		{filepath.Join(fixtures, "models/zoo-v2-opset7.onnx"), "runs:        yes"},
		{filepath.Join(fixtures, "families/vit-opset17.onnx"), "runs:        yes"},
		{renamed, "runs:        no: lacks the operators HardSigmoix, HardSwash"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, nil, "model", "info", tt.file)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%s: exit %d, output lacks %q:\n%s%s", tt.file, code, tt.want, out, errOut)
		}
	}
	code, out, _ := runCLI(t, nil, "model", "info", "--json", renamed)
	var d struct {
		Runs    bool     `json:"runs"`
		Missing []string `json:"missing_operators"`
	}
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Runs || strings.Join(d.Missing, ",") != "HardSigmoix,HardSwash" {
		t.Errorf("exit %d, %v: %+v", code, err, d)
	}
}

// TestModelInfoExternalData describes a model whose weights are in a file
// beside it: info counts them without reading them, and the model runs.
func TestModelInfoExternalData(t *testing.T) {
	dir := t.TempDir()
	w := onnxtest.Tensor{Name: "w", Type: onnxtest.Float, Dims: []int64{2, 3, 1, 1}, Floats: []float64{1, 2, 3, 4, 5, 6},
		Enc: onnxtest.External, Location: "weights.bin"}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), w.RawBytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	model := onnxtest.Model(13, onnxtest.Graph{
		Inputs:       []onnxtest.Value{{Name: "x", Dims: []int64{-1, 3, 4, 4}}},
		Outputs:      []onnxtest.Value{{Name: "y", Dims: []int64{-1, 2, 4, 4}}},
		Initializers: []onnxtest.Tensor{w},
		Nodes:        []onnxtest.Node{{Op: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}},
	})
	path := filepath.Join(dir, "ext.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "model", "info", path)
	for _, want := range []string{"parameters:  6", "Conv x1", "runs:        yes"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s%s", code, want, out, errOut)
		}
	}
	if err := os.Remove(filepath.Join(dir, "weights.bin")); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, nil, "model", "info", path)
	if code != 0 || !strings.Contains(out, `runs:        no: `) || !strings.Contains(out, `tensor "w": external data "weights.bin"`) {
		t.Errorf("without its data file: exit %d:\n%s", code, out)
	}
}
