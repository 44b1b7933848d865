package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/testsupport"
)

func miniModel(t testing.TB) string { return testsupport.Fixtures(t, "models/mini-v1-opset11.onnx") }

// runCLI runs mlserve with args and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, IO{In: bytes.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// classifyFixtures runs `mlserve classify --json --model model` on the
// fixture images named by want's keys and returns the images in argument
// order with their results, checked to be one each, in that order.
func classifyFixtures[W any](t *testing.T, model string, want map[string]W) ([]string, []api.Result) {
	t.Helper()
	args := []string{"classify", "--json", "--model", model}
	var images []string
	for img := range want {
		images = append(images, img)
		args = append(args, testsupport.Fixtures(t, "images", img))
	}
	code, out, errOut := runCLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rs := parseLines(t, out)
	if len(rs) != len(images) {
		t.Fatalf("got %d results for %d images", len(rs), len(images))
	}
	for i, r := range rs {
		if !strings.HasSuffix(r.Source.URI, images[i]) {
			t.Fatalf("result %d is for %s, want %s", i, r.Source.URI, images[i])
		}
	}
	return images, rs
}

func parseLines(t *testing.T, s string) []api.Result {
	t.Helper()
	var rs []api.Result
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var r api.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestClassifyErrors(t *testing.T) {
	dir := t.TempDir()
	dog, err := os.ReadFile(testsupport.Fixtures(t, "images/dog-768x576.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("a-good.jpg", dog)
	write("b-text.jpg", []byte("hello, not an image"))
	write("c-truncated.jpg", dog[:len(dog)/3])
	write("d-empty.png", nil)
	write("notes.txt", []byte("skipped: not an image extension"))

	code, out, errOut := runCLI(t, nil, "classify", "--json", "--model", miniModel(t), dir, filepath.Join(dir, "missing.jpg"))
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d; stderr: %s", code, ExitFailure, errOut)
	}
	rs := parseLines(t, out)
	wantCodes := []string{"", "not_an_image", "truncated", "empty", "read_failed"}
	if len(rs) != len(wantCodes) {
		t.Fatalf("got %d results, want %d:\n%s", len(rs), len(wantCodes), out)
	}
	for i, r := range rs {
		got := ""
		if r.Error != nil {
			got = r.Error.Code
		}
		if got != wantCodes[i] {
			t.Errorf("%s: error code %q, want %q", r.Source.URI, got, wantCodes[i])
		}
	}
	if rs[0].Source.URI != good || len(rs[0].Predictions) != 5 {
		t.Errorf("the good image lost its result: %+v", rs[0])
	}
	if !strings.Contains(errOut, "4 of 5 images failed") {
		t.Errorf("stderr does not sum up the failures: %s", errOut)
	}

	usage := []struct {
		name string
		args []string
	}{
		{"top-k zero", []string{"classify", "--top-k", "0", good}},
		{"top-k too big", []string{"classify", "--top-k", "1001", good}},
		{"no args", []string{"classify"}},
		{"unknown flag", []string{"classify", "--nope", good}},
		{"empty dir", []string{"classify", "--model", miniModel(t), t.TempDir()}},
	}
	for _, tt := range usage {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, errOut := runCLI(t, nil, tt.args...); code != ExitUsage {
				t.Errorf("exit %d, want %d (%s)", code, ExitUsage, errOut)
			}
		})
	}
}

func TestClassifyTextAndStdin(t *testing.T) {
	dog, err := os.ReadFile(testsupport.Fixtures(t, "images/dog-768x576.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, dog, "classify", "--top-k", "2", "--model", miniModel(t), "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// mini-v1 on this photo: class 490 first (meta.json e2e).
	want := "- (768x576 jpeg)\n  1.  25.22%  chain mail (490)\n  2. "
	if !strings.HasPrefix(out, want) || strings.Count(out, "\n") != 3 {
		t.Errorf("output:\n%s\nwant it to start with:\n%s", out, want)
	}
}

func TestClassifyCorruptModel(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.onnx")
	if err := os.WriteFile(bad, []byte("\x08\x07garbage that is not protobuf"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "classify", "--model", bad, testsupport.Fixtures(t, "images/dog-768x576.jpg"))
	if code != ExitFailure || !strings.Contains(errOut, "model") {
		t.Errorf("exit %d, stderr %q: want a clear model error", code, errOut)
	}
}

func TestGEMMKernelVariable(t *testing.T) {
	t.Setenv("MLSERVE_GEMM_KERNEL", "sse9")
	code, _, errOut := runCLI(t, nil, "classify", "--model", miniModel(t), testsupport.Fixtures(t, "images/dog-768x576.jpg"))
	if code != ExitUsage || !strings.Contains(errOut, `kernel "sse9" is not available`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
