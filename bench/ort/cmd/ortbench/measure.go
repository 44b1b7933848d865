package main

// The helpers below are duplicated in bench/enginebench/measure.go: bench/ort is
// a separate module (cgo, ONNX Runtime) and must not import the main module.
// The report line format is the contract bench/bench.sh parses; keep both
// copies in step.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is one measured batch size, printed as one line of key=value pairs.
type report struct {
	Engine   string
	Model    string
	Batch    int
	Threads  int
	Warmup   int
	Iters    int
	MsPerImg float64 // median over the timed runs of run time / batch
	MinMs    float64 // fastest timed run / batch
	LoadMs   float64 // model load, including session or graph build
	PeakRSS  int64   // VmHWM in bytes, 0 if unknown
}

func (r report) String() string {
	return fmt.Sprintf("engine=%s batch=%d ms_per_img=%.2f min_ms_per_img=%.2f peak_rss_mib=%.1f load_ms=%.0f iters=%d warmup=%d threads=%d model=%s",
		r.Engine, r.Batch, r.MsPerImg, r.MinMs, float64(r.PeakRSS)/(1<<20), r.LoadMs, r.Iters, r.Warmup, r.Threads, r.Model)
}

// parseBatches parses a comma-separated list of positive batch sizes.
func parseBatches(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("batch size %q: want a positive integer", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no batch size given")
	}
	return out, nil
}

// timeRuns calls run warmup times untimed, then times up to iters calls. It
// stops early once budget has elapsed in the timed phase, but never before
// three timed runs (a median of fewer says little).
func timeRuns(run func() error, warmup, iters int, budget time.Duration) ([]time.Duration, error) {
	for i := range warmup {
		if err := run(); err != nil {
			return nil, fmt.Errorf("warm-up run %d: %w", i, err)
		}
	}
	var ds []time.Duration
	start := time.Now()
	for i := 0; i < iters; i++ {
		t := time.Now()
		if err := run(); err != nil {
			return nil, fmt.Errorf("timed run %d: %w", i, err)
		}
		ds = append(ds, time.Since(t))
		if budget > 0 && len(ds) >= 3 && time.Since(start) >= budget {
			break
		}
	}
	return ds, nil
}

// median returns the median duration (mean of the middle two for an even
// count) and the minimum; both are 0 for no durations.
func median(ds []time.Duration) (med, lo time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], s[0]
	}
	return (s[n/2-1] + s[n/2]) / 2, s[0]
}

func msPer(d time.Duration, n int) float64 {
	return float64(d) / float64(time.Millisecond) / float64(n)
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	defer f.Close()
	return parseVmHWM(f)
}

// parseVmHWM reads the VmHWM line ("VmHWM:  311296 kB") of a
// /proc/<pid>/status file.
func parseVmHWM(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("parse VmHWM %q: want \"<n> kB\"", rest)
		}
		kb, err := strconv.ParseUint(f[0], 10, 53) // 2^53 KiB: far beyond any RSS, and no overflow below
		if err != nil {
			return 0, fmt.Errorf("parse VmHWM %q: %w", rest, err)
		}
		return int64(kb) << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	return 0, errors.New("no VmHWM line in status")
}

// resetPeakRSS sets VmHWM back to the current RSS (Linux >= 4.0), so memory
// held only by an earlier, already freed phase does not count.
func resetPeakRSS() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak rss: %w", err)
	}
	return nil
}

// randomPixels fills p with N(0,1) values, the range of normalized ImageNet
// pixels, from a fixed seed so every run sees the same data.
func randomPixels(p []float32, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x6d6c7365727665)) // "mlserve"
	for i := range p {
		p[i] = float32(r.NormFloat64())
	}
}

// readF32 reads a raw little-endian float32 file of exactly n values.
func readF32(path string, n int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read reference: %w", err)
	}
	if len(b) != 4*n {
		return nil, fmt.Errorf("read %s: %d bytes, want %d float32 (%d bytes)", path, len(b), n, 4*n)
	}
	out := make([]float32, n)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, out); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return out, nil
}

// relL2 returns ||got-want|| / ||want||, computed in float64.
func relL2(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if den == 0 {
		if num == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Sqrt(num / den)
}

// repoRoot walks up from the working directory to the mlserve module root
// (the directory whose go.mod declares github.com/mlserve/mlserve).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repo root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && slices.Contains(strings.Split(string(b), "\n"), "module github.com/mlserve/mlserve") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repo root: no go.mod of github.com/mlserve/mlserve above the working directory")
		}
		dir = parent
	}
}

// defaultPath resolves a default path given relative to the repo root: as
// is when it exists from the working directory, else under the repo root.
func defaultPath(rel string) string {
	if _, err := os.Stat(rel); err == nil || filepath.IsAbs(rel) {
		return rel
	}
	if root, err := repoRoot(); err == nil {
		return filepath.Join(root, rel)
	}
	return rel
}

// runEach re-executes this program once per batch size, with args plus
// -batch=<n>, so each batch size gets a fresh process and its own peak RSS.
// It copies the children's output through.
func runEach(batches []int, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("re-exec: %w", err)
	}
	for _, n := range batches {
		cmd := exec.Command(self, append(slices.Clone(args), "-batch="+strconv.Itoa(n))...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("batch %d: %w", n, err)
		}
	}
	return nil
}
