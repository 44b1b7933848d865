package cli

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/models"
)

// modelTestFixture reads a file from ../shared/fixtures next to the
// repository root.
func modelTestFixture(t *testing.T, rel string) []byte {
	t.Helper()
	return testsupport.ReadFixture(t, rel)
}

func TestModelPull(t *testing.T) {
	data := modelTestFixture(t, "models/mini-v1-opset11.onnx")
	sum := sha256.Sum256(data)
	var requests atomic.Int32
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if status != http.StatusOK {
			http.Error(w, http.StatusText(status), status)
			return
		}
		http.ServeContent(w, r, "mini.onnx", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()

	// The mini fixture stands in for resnet50-v1-12; its manifest URL is
	// unreachable, so only --url downloads.
	mini := models.Default()
	mini.Name, mini.File, mini.URL = "mini", "mini.onnx", "http://127.0.0.1:1/unreachable.onnx"
	mini.Size, mini.SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
	defer func(f func() models.Manifest) { modelManifest = f }(modelManifest)

	envDir := t.TempDir()
	otherDir := t.TempDir()
	t.Setenv("MLSERVE_CACHE_DIR", envDir)

	tests := []pullCase{
		{
			name: "download", args: []string{"model", "pull", "--url", srv.URL + "/mini.onnx"}, manifest: mini,
			wantOut: filepath.Join(envDir, "mini.onnx") + "\n", wantErr: "downloaded mini.onnx", wantRequests: 1,
			wantFile: filepath.Join(envDir, "mini.onnx"),
		},
		{
			name: "cached copy is kept", args: []string{"model", "pull", "--url", srv.URL + "/mini.onnx"}, manifest: mini,
			wantOut: filepath.Join(envDir, "mini.onnx") + "\n", wantErr: "already downloaded and verified", wantRequests: 0,
			wantFile: filepath.Join(envDir, "mini.onnx"),
		},
		{
			name: "force", args: []string{"model", "pull", "--force", "--url", srv.URL + "/mini.onnx"}, manifest: mini,
			wantOut: filepath.Join(envDir, "mini.onnx") + "\n", wantErr: "downloaded mini.onnx", wantRequests: 1,
			wantFile: filepath.Join(envDir, "mini.onnx"),
		},
		{
			name: "dir beats env", args: []string{"model", "pull", "--dir", otherDir, "--url", srv.URL + "/mini.onnx"}, manifest: mini,
			wantOut: filepath.Join(otherDir, "mini.onnx") + "\n", wantRequests: 1,
			wantFile: filepath.Join(otherDir, "mini.onnx"),
		},
		{
			name: "mirror serving another file", args: []string{"model", "pull", "--url", srv.URL + "/resnet50-v1-12.onnx"}, manifest: models.Default(),
			wantCode: ExitFailure, wantErr: "size mismatch", wantRequests: 1,
			wantGone: filepath.Join(envDir, "resnet50-v1-12.onnx"),
		},
		{
			name: "404", args: []string{"model", "pull", "--url", srv.URL + "/missing.onnx"}, manifest: models.Default(), status: http.StatusNotFound,
			wantCode: ExitFailure, wantErr: "404 Not Found", wantRequests: 1,
			wantGone: filepath.Join(envDir, "resnet50-v1-12.onnx.part"),
		},
		{
			name: "argument", args: []string{"model", "pull", "extra"}, manifest: mini,
			wantCode: ExitUsage, wantErr: "takes no arguments",
		},
		{
			name: "unknown flag", args: []string{"model", "pull", "--mirror", "x"}, manifest: mini,
			wantCode: ExitUsage, wantErr: "unknown flag",
		},
		{
			name: "help", args: []string{"model", "pull", "--help"}, manifest: mini,
			wantOut: "", wantCode: ExitOK,
		},
		{
			name: "info with two models", args: []string{"model", "info", "a", "b"}, manifest: mini,
			wantCode: ExitUsage, wantErr: "at most one model",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			modelManifest = func() models.Manifest { return tc.manifest }
			status = cmp.Or(tc.status, http.StatusOK)
			before := requests.Load()
			var out, errOut bytes.Buffer
			code := Run(context.Background(), tc.args, IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
			tc.check(t, code, out.String(), errOut.String(), requests.Load()-before, data)
		})
	}
}

// pullCase is one `mlserve model ...` run of TestModelPull.
type pullCase struct {
	name         string
	args         []string
	manifest     models.Manifest
	status       int
	wantCode     int
	wantOut      string // exact stdout
	wantErr      string // in stderr
	wantRequests int32
	wantFile     string // holds the fixture afterwards
	wantGone     string // does not exist afterwards
}

// check asserts a run's exit code, output, download requests and files;
// data is the served file.
func (tc pullCase) check(t *testing.T, code int, out, errOut string, requests int32, data []byte) {
	t.Helper()
	if code != tc.wantCode {
		t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.wantCode, errOut)
	}
	if tc.name == "help" {
		if !strings.Contains(out, "$ mlserve model pull --url") {
			t.Errorf("help lacks the examples:\n%s", out)
		}
	} else if out != tc.wantOut {
		t.Errorf("stdout = %q, want %q", out, tc.wantOut)
	}
	if !strings.Contains(errOut, tc.wantErr) {
		t.Errorf("stderr = %q, want it to contain %q", errOut, tc.wantErr)
	}
	if got := requests; got != tc.wantRequests {
		t.Errorf("%d requests, want %d", got, tc.wantRequests)
	}
	if tc.wantFile != "" {
		if got, err := os.ReadFile(tc.wantFile); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes, %v; want the served file", tc.wantFile, len(got), err)
		}
	}
	if tc.wantGone != "" {
		if _, err := os.Stat(tc.wantGone); err == nil {
			t.Errorf("%s exists after a failed pull", tc.wantGone)
		}
	}
}

func TestModelPullInterrupted(t *testing.T) {
	t.Setenv("MLSERVE_CACHE_DIR", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := Run(ctx, []string{"model", "pull", "--url", "http://127.0.0.1:1/m.onnx"}, IO{Out: &out, Err: &errOut})
	if code != ExitInterrupted {
		t.Errorf("exit code %d, want %d (interrupted); stderr:\n%s", code, ExitInterrupted, errOut.String())
	}
}

// TestClassifyModelURL runs the whole chain a user runs: a model URL is
// downloaded into the cache, loaded by the real engine and reused by the
// next run without a request.
func TestClassifyModelURL(t *testing.T) {
	model := modelTestFixture(t, "models/mini-v1-opset11.onnx")
	var meta struct {
		E2E map[string]map[string]struct {
			Classes []int `json:"classes"`
		} `json:"e2e"`
	}
	if err := json.Unmarshal(modelTestFixture(t, "meta.json"), &meta); err != nil {
		t.Fatal(err)
	}
	want := meta.E2E["mini-v1"]["dog-768x576.jpg"].Classes // torch's top-5
	if len(want) != 5 {
		t.Fatalf("meta.json: no e2e classes for mini-v1 on dog-768x576.jpg")
	}
	image := filepath.Join(t.TempDir(), "dog.jpg")
	if err := os.WriteFile(image, modelTestFixture(t, "images/dog-768x576.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.ServeContent(w, r, "mini.onnx", time.Time{}, bytes.NewReader(model))
	}))
	defer srv.Close()
	cache := t.TempDir()
	t.Setenv("MLSERVE_CACHE_DIR", cache)
	url := srv.URL + "/models/mini-v1-opset11.onnx"

	for _, tc := range []struct {
		name string
		args []string
		env  string
	}{
		{"--model URL downloads", []string{"classify", "--json", "--model", url, image}, ""},
		{"MLSERVE_MODEL URL reuses the cache", []string{"classify", "--json", image}, url},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("MLSERVE_MODEL", tc.env)
			var out, errOut bytes.Buffer
			if code := Run(context.Background(), tc.args, IO{In: strings.NewReader(""), Out: &out, Err: &errOut}); code != ExitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, errOut.String())
			}
			var res struct {
				Predictions []struct {
					ClassID int `json:"class_id"`
				} `json:"predictions"`
			}
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			var got []int
			for _, p := range res.Predictions {
				got = append(got, p.ClassID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("top-5 classes %v, want torch's %v", got, want)
			}
		})
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests for two runs, want 1 (the second reuses the cache)", n)
	}
	cached, _ := filepath.Glob(filepath.Join(cache, "url", "*-mini-v1-opset11.onnx"))
	if len(cached) != 1 {
		t.Errorf("cache holds %v, want one downloaded model", cached)
	}
}
