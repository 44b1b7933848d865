package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
