package shiptest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// runFetch runs scripts/fetch-model.sh and returns its exit code and stderr.
func runFetch(t *testing.T, args ...string) (int, string) {
	t.Helper()
	testsupport.Tool(t, "curl", "") // skips locally, fails in CI
	cmd := exec.Command("sh", append([]string{filepath.Join(repoRoot(t), "scripts", "fetch-model.sh")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	default:
		t.Fatal(err)
		return -1, ""
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestFetchModel runs the Dockerfile's model step against a local server:
// the right file lands, anything else fails the step and leaves nothing.
func TestFetchModel(t *testing.T) {
	model := bytes.Repeat([]byte("onnx model bytes "), 4096)
	wrong := append(bytes.Clone(model[:len(model)-1]), 'X')
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/model.onnx":
			w.Write(model)
		case "/wrong.onnx":
			w.Write(wrong)
		case "/truncated.onnx":
			w.Write(model[:len(model)/2])
		case "/redirect.onnx": // GitHub serves LFS files through a redirect
			http.Redirect(w, r, "/model.onnx", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	local := filepath.Join(t.TempDir(), "local.onnx")
	if err := os.WriteFile(local, model, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		url, sum string
		wantCode int
		wantErr  string
	}{
		{"right file", srv.URL + "/model.onnx", sum(model), 0, ""},
		{"redirect", srv.URL + "/redirect.onnx", sum(model), 0, ""},
		{"file URL", "file://" + local, sum(model), 0, ""},
		{"one byte differs", srv.URL + "/wrong.onnx", sum(model), 1, "sha256 mismatch"},
		{"truncated", srv.URL + "/truncated.onnx", sum(model), 1, "sha256 mismatch"},
		{"not found", srv.URL + "/missing.onnx", sum(model), 22, "404"}, // curl --fail exits 22
		{"bad checksum argument", srv.URL + "/model.onnx", "abc", 2, "64 lowercase hex"},
		{"upper-case checksum", srv.URL + "/model.onnx", strings.ToUpper(sum(model)), 2, "64 lowercase hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "models", "resnet50-v1-12.onnx")
			code, stderr := runFetch(t, tt.url, tt.sum, dest)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if tt.wantErr != "" && !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr does not mention %q:\n%s", tt.wantErr, stderr)
			}
			got, err := os.ReadFile(dest)
			switch {
			case tt.wantCode == 0 && (err != nil || !bytes.Equal(got, model)):
				t.Errorf("dest: %v, %d bytes; want the model", err, len(got))
			case tt.wantCode != 0 && err == nil:
				t.Errorf("a failed fetch left %s (%d bytes)", dest, len(got))
			}
			if _, err := os.Stat(dest + ".part"); err == nil {
				t.Errorf("left %s.part behind", dest)
			}
		})
	}
	t.Run("usage", func(t *testing.T) {
		if code, _ := runFetch(t, "only-one-arg"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}
