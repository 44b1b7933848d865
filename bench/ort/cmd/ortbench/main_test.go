package main

// The pure helpers in measure.go are tested in bench/enginebench, which holds
// an identical copy (and a test that keeps the two in step). These tests run
// ONNX Runtime itself; they need the shared library from npm:
//
//	cd bench/ort && npm ci --ignore-scripts && go test ./...

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// lineRE is what bench/bench.sh reads from a report line.
var lineRE = regexp.MustCompile(`^engine=(\S+) batch=(\d+) ms_per_img=([0-9.]+) min_ms_per_img=([0-9.]+) peak_rss_mib=([0-9.]+) load_ms=(\d+) iters=(\d+) warmup=(\d+) threads=(\d+) model=(\S+)$`)

// env returns the fixtures directory and the ONNX Runtime library; without
// the library the test skips, or fails in CI (CI set to any non-empty value).
func env(t *testing.T) (fixtures, lib string) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	lib = filepath.Join(root, defaultLib)
	if _, err := os.Stat(lib); err != nil {
		if os.Getenv("CI") != "" { // any non-empty CI means CI, as internal/testsupport.CI
			t.Fatalf("ONNX Runtime library missing (cd bench/ort && npm ci --ignore-scripts): %v", err)
		}
		t.Skipf("ONNX Runtime library missing (cd bench/ort && npm ci --ignore-scripts): %v", err)
	}
	return filepath.Join(root, "..", "shared", "fixtures"), lib
}

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestVerify checks ONNX Runtime against the PyTorch references: if these
// fail the anchor itself is wrong and no ratio against it means anything.
func TestVerify(t *testing.T) {
	fx, lib := env(t)
	models := []string{"mini-v1-opset11.onnx", "mini-v2-opset11.onnx", "zoo-v2-opset7.onnx", "mini-v1-softmax-opset13-folded.onnx"}
	if !testing.Short() {
		models = append(models, "resnet50-opset11.onnx") // 102 MB, ~1 s to load
	}
	for _, m := range models {
		t.Run(m, func(t *testing.T) {
			code, out, errs := runMain(t, "-lib", lib, "-model", filepath.Join(fx, "models", m), "-verify")
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, out, errs)
			}
			if !strings.HasPrefix(out, "verify engine=ort batch=4 ") || !strings.Contains(out, " ok ") {
				t.Errorf("verify line %q", out)
			}
			t.Log(strings.TrimSpace(out))
		})
	}
}

// TestVerifyDetectsWrongReference makes sure -verify can fail: the mini v1
// model checked against the mini v2 reference.
func TestVerifyDetectsWrongReference(t *testing.T) {
	fx, lib := env(t)
	code, out, _ := runMain(t, "-lib", lib, "-model", filepath.Join(fx, "models", "mini-v1-opset11.onnx"),
		"-verify-output", filepath.Join(fx, "models", "mini-v2.out-b4.f32"), "-verify")
	if code != 1 || !strings.Contains(out, " FAIL ") {
		t.Errorf("exit %d, line %q; want 1 and FAIL", code, out)
	}
}

func TestBench(t *testing.T) {
	fx, lib := env(t)
	code, out, errs := runMain(t, "-lib", lib, "-model", filepath.Join(fx, "models", "mini-v1-opset11.onnx"),
		"-batch", "3", "-warmup", "1", "-iters", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	m := lineRE.FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		t.Fatalf("line %q does not match %s", out, lineRE)
	}
	if m[1] != "ort" || m[2] != "3" || m[7] != "4" || m[9] != "2" {
		t.Errorf("line %q: want engine ort, batch 3, 4 iters, 2 threads", out)
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
		{name: "bad batch", args: []string{"-batch", "1,x"}, code: 2},
		{name: "missing library", args: []string{"-batch", "1", "-lib", "/nonexistent/libonnxruntime.so"}, code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, errs := runMain(t, tt.args...); code != tt.code {
				t.Errorf("run(%q) = %d, want %d; stderr %s", tt.args, code, tt.code, errs)
			}
		})
	}
}

// TestBinary builds ortbench and runs it as bench.sh does: one process per
// batch size, each line with its own peak RSS.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	fx, lib := env(t)
	bin := filepath.Join(t.TempDir(), "ortbench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-lib", lib, "-model", filepath.Join(fx, "models", "mini-v1-opset11.onnx"),
		"-batch", "1,4", "-warmup", "1", "-iters", "3")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out)
	}
	var rss [2]float64
	for i, l := range lines {
		m := lineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q does not match %s", l, lineRE)
		}
		if want := []string{"1", "4"}[i]; m[2] != want {
			t.Errorf("line %q: batch %s, want %s", l, m[2], want)
		}
		rss[i], _ = strconv.ParseFloat(m[5], 64)
		if rss[i] <= 0 {
			t.Errorf("line %q: no peak RSS", l)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
	t.Logf("%s", out)
}
