package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModelInfo(t *testing.T) {
	zoo := filepath.Join(fixtures, "models/zoo-v2-opset7.onnx")
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
	tests := []struct{ file, want string }{
		{"models/zoo-v2-opset7.onnx", "runs:        yes"},
		{"families/mobilenetv2-opset13.onnx", "runs:        yes"},
		{"families/vit-opset17.onnx", "runs:        no: lacks the operators ConstantOfShape, Equal, Expand, Where"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, nil, "model", "info", filepath.Join(fixtures, tt.file))
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%s: exit %d, output lacks %q:\n%s%s", tt.file, code, tt.want, out, errOut)
		}
	}
	code, out, _ := runCLI(t, nil, "model", "info", "--json", filepath.Join(fixtures, "families/vit-opset13.onnx"))
	var d struct {
		Runs    bool     `json:"runs"`
		Missing []string `json:"missing_operators"`
	}
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Runs || strings.Join(d.Missing, ",") != "ConstantOfShape,Equal,Expand,Where" {
		t.Errorf("exit %d, %v: %+v", code, err, d)
	}
}
