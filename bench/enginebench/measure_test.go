package main

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lineRE is what bench/bench.sh reads from a report line.
var lineRE = regexp.MustCompile(`^engine=(\S+) batch=(\d+) ms_per_img=([0-9.]+) min_ms_per_img=([0-9.]+) peak_rss_mib=([0-9.]+) load_ms=(\d+) iters=(\d+) warmup=(\d+) threads=(\d+) model=(\S+)$`)

func TestReportFormat(t *testing.T) {
	r := report{Engine: "mlserve", Model: "m.onnx", Batch: 8, Threads: 2, Warmup: 3, Iters: 10,
		MsPerImg: 28.0449, MinMs: 27.5, LoadMs: 812.4, PeakRSS: 382 << 20}
	got := r.String()
	const want = "engine=mlserve batch=8 ms_per_img=28.04 min_ms_per_img=27.50 peak_rss_mib=382.0 load_ms=812 iters=10 warmup=3 threads=2 model=m.onnx"
	if got != want {
		t.Errorf("report line\n got %s\nwant %s", got, want)
	}
	if !lineRE.MatchString(got) {
		t.Errorf("report line %q does not match %s", got, lineRE)
	}
}

func TestParseBatches(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "1", want: []int{1}},
		{in: "1,8", want: []int{1, 8}},
		{in: " 1, 8 ,", want: []int{1, 8}},
		{in: "", wantErr: true},
		{in: ",", wantErr: true},
		{in: "0", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "1,x", wantErr: true},
		{in: "1.5", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBatches(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseBatches(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && !equal(got, tt.want) {
				t.Errorf("parseBatches(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{name: "typical", status: "Name:\tx\nVmPeak:\t  999 kB\nVmHWM:\t  311296 kB\nVmRSS:\t 1 kB\n", want: 311296 << 10},
		{name: "first line", status: "VmHWM: 4 kB", want: 4096},
		{name: "missing", status: "Name:\tx\nVmRSS:\t 1 kB\n", wantErr: true},
		{name: "no unit", status: "VmHWM: 4\n", wantErr: true},
		{name: "other unit", status: "VmHWM: 4 MB\n", wantErr: true},
		{name: "not a number", status: "VmHWM: x kB\n", wantErr: true},
		{name: "negative", status: "VmHWM: -4 kB\n", wantErr: true},
		{name: "overflow", status: "VmHWM: 99999999999999999999 kB\n", wantErr: true},
		{name: "empty", status: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmHWM(strings.NewReader(tt.status))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseVmHWM error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseVmHWM = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPeakRSS(t *testing.T) {
	got, err := peakRSS()
	if err != nil {
		t.Fatal(err)
	}
	// A Go test binary holds at least a few MiB and far less than a TiB.
	if got < 1<<20 || got > 1<<40 {
		t.Errorf("peakRSS() = %d bytes, implausible", got)
	}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		in      []time.Duration
		med, lo time.Duration
	}{
		{name: "empty"},
		{name: "one", in: []time.Duration{5 * ms}, med: 5 * ms, lo: 5 * ms},
		{name: "odd unsorted", in: []time.Duration{9 * ms, 1 * ms, 5 * ms}, med: 5 * ms, lo: ms},
		{name: "even", in: []time.Duration{4 * ms, 1 * ms, 2 * ms, 100 * ms}, med: 3 * ms, lo: ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.in...)
			med, lo := median(tt.in)
			if med != tt.med || lo != tt.lo {
				t.Errorf("median(%v) = %v, %v, want %v, %v", tt.in, med, lo, tt.med, tt.lo)
			}
			if !equal(in, tt.in) {
				t.Errorf("median reordered its argument: %v", tt.in)
			}
		})
	}
}

func TestTimeRuns(t *testing.T) {
	tests := []struct {
		name             string
		warmup, iters    int
		budget           time.Duration
		sleep            time.Duration
		failAt           int // call number that fails, 0 = none
		wantCalls, wantN int
		wantErr          bool
	}{
		{name: "all", warmup: 2, iters: 5, wantCalls: 7, wantN: 5},
		{name: "no warm-up", iters: 3, wantCalls: 3, wantN: 3},
		{name: "budget stops after three", warmup: 1, iters: 50, budget: time.Nanosecond, sleep: time.Millisecond, wantCalls: 4, wantN: 3},
		{name: "budget keeps fewer than asked", iters: 2, budget: time.Nanosecond, wantCalls: 2, wantN: 2},
		{name: "warm-up error", warmup: 2, iters: 5, failAt: 2, wantCalls: 2, wantErr: true},
		{name: "timed error", warmup: 1, iters: 5, failAt: 3, wantCalls: 3, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			boom := errors.New("boom")
			ds, err := timeRuns(func() error {
				calls++
				time.Sleep(tt.sleep)
				if calls == tt.failAt {
					return boom
				}
				return nil
			}, tt.warmup, tt.iters, tt.budget)
			if tt.wantErr != (err != nil) || (err != nil && !errors.Is(err, boom)) {
				t.Fatalf("timeRuns error = %v, want error %v wrapping boom", err, tt.wantErr)
			}
			if calls != tt.wantCalls || len(ds) != tt.wantN {
				t.Errorf("timeRuns: %d calls, %d durations; want %d, %d", calls, len(ds), tt.wantCalls, tt.wantN)
			}
		})
	}
}

func TestRelL2(t *testing.T) {
	tests := []struct {
		name      string
		got, want []float32
		rel       float64
	}{
		{name: "equal", got: []float32{1, 2}, want: []float32{1, 2}, rel: 0},
		{name: "three-four-five", got: []float32{3, 4}, want: []float32{0, 0}, rel: math.Inf(1)},
		{name: "zero both", got: []float32{0}, want: []float32{0}, rel: 0},
		{name: "ten percent", got: []float32{1.1, 0}, want: []float32{1, 0}, rel: 0.1},
		{name: "length mismatch", got: []float32{1}, want: []float32{1, 2}, rel: math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// float32(1.1) is 1.10000002384; 1e-6 covers that rounding.
			if got := relL2(tt.got, tt.want); !(math.Abs(got-tt.rel) < 1e-6 || got == tt.rel) {
				t.Errorf("relL2 = %g, want %g", got, tt.rel)
			}
		})
	}
}

func TestReadF32(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.f32")
	// 1.0 and -2.0 as little-endian IEEE 754 float32.
	if err := os.WriteFile(p, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readF32(p, 2)
	if err != nil || !equal(got, []float32{1, -2}) {
		t.Errorf("readF32 = %v, %v; want [1 -2]", got, err)
	}
	if _, err := readF32(p, 3); err == nil {
		t.Error("readF32 with the wrong count succeeded")
	}
	if _, err := readF32(filepath.Join(dir, "missing"), 1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("readF32 of a missing file: %v, want ErrNotExist", err)
	}
}

func TestRandomPixels(t *testing.T) {
	a, b := make([]float32, 3*224*224), make([]float32, 3*224*224)
	randomPixels(a, 1)
	randomPixels(b, 1)
	if !equal(a, b) {
		t.Fatal("randomPixels is not deterministic for one seed")
	}
	var sum, sq float64
	for _, v := range a {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(a))
	mean, std := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
	// N(0,1) over 150528 draws: the mean is within 0.02 and the standard
	// deviation within 0.02 of 1 with overwhelming probability.
	if math.Abs(mean) > 0.02 || math.Abs(std-1) > 0.02 {
		t.Errorf("randomPixels: mean %g, std %g; want N(0,1)", mean, std)
	}
	randomPixels(b, 2)
	if equal(a, b) {
		t.Error("randomPixels gives the same data for different seeds")
	}
}

func TestRepoRootAndDefaultPath(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bench", "enginebench", "main.go")); err != nil {
		t.Errorf("repoRoot() = %s, not the mlserve root: %v", root, err)
	}
	// From bench/enginebench the repo-relative path does not exist as is.
	got := defaultPath("bench/enginebench/main.go")
	if got != filepath.Join(root, "bench/enginebench/main.go") {
		t.Errorf("defaultPath = %s, want it under %s", got, root)
	}
	if got := defaultPath("main.go"); got != "main.go" {
		t.Errorf("defaultPath of an existing relative path = %s, want it unchanged", got)
	}
}

// TestMeasureInStep keeps this file's twin in bench/ort (a separate module
// that cannot import this one) identical but for its first comment line.
func TestMeasureInStep(t *testing.T) {
	mine, err := os.ReadFile("measure.go")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := os.ReadFile("../ort/cmd/ortbench/measure.go")
	if err != nil {
		t.Fatal(err)
	}
	strip := func(b []byte) string {
		lines := strings.Split(string(b), "\n")
		var out []string
		for _, l := range lines {
			if !strings.HasPrefix(l, "// The helpers below are duplicated in ") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	if strip(mine) != strip(theirs) {
		t.Error("bench/enginebench/measure.go and bench/ort/cmd/ortbench/measure.go differ; change both")
	}
}

// FuzzParseBatches: any input either fails or gives positive sizes that
// print back to an accepted list.
func FuzzParseBatches(f *testing.F) {
	for _, s := range []string{"1", "1,8", " 1, 8 ,", "", "0", "-1", "1,x", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseBatches(s)
		if err != nil {
			return
		}
		var parts []string
		for _, n := range got {
			if n < 1 {
				t.Fatalf("parseBatches(%q) = %v: non-positive size", s, got)
			}
			parts = append(parts, strconv.Itoa(n))
		}
		again, err := parseBatches(strings.Join(parts, ","))
		if err != nil || !equal(again, got) {
			t.Fatalf("round trip of %v: %v, %v", got, again, err)
		}
	})
}

// FuzzParseVmHWM: any status text either fails or gives a whole number of
// KiB that is not negative.
func FuzzParseVmHWM(f *testing.F) {
	f.Add("Name:\tx\nVmHWM:\t  311296 kB\nVmRSS:\t 1 kB\n")
	f.Add("VmHWM: 4 kB")
	f.Add("VmHWM: -4 kB")
	f.Add("VmHWM: 4 MB\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseVmHWM(strings.NewReader(s))
		if err != nil {
			return
		}
		if got < 0 || got%1024 != 0 {
			t.Fatalf("parseVmHWM(%q) = %d, not a whole number of KiB", s, got)
		}
	})
}
