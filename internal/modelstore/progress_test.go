package modelstore

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0), step: 10 * time.Millisecond}
	const total = 100 << 20
	p := newProgressAt(&out, true, clk.now, "m.onnx", "https://x/m.onnx", 0, total)
	// 1000 updates 10ms apart (10 s): at most one redraw per 100ms.
	for i := 1; i <= 1000; i++ {
		p.update(int64(i) * (total / 2000))
	}
	if draws := strings.Count(out.String(), "\r"); draws < 90 || draws > 101 {
		t.Errorf("%d redraws in 10 s, want about 10 a second", draws)
	}
	last := out.String()[strings.LastIndex(out.String(), "\r")+1:]
	// 50 MiB in 10 s: 5 MiB/s, 50 MiB to go: ETA 10 s.
	for _, want := range []string{"m.onnx [", " MiB / 100.0 MiB", " 50%", "5.0 MiB/s", "ETA 0:10"} {
		if !strings.Contains(last, want) {
			t.Errorf("bar %q lacks %q", last, want)
		}
	}
	p.done(total)
	if !strings.HasSuffix(out.String(), "\x1b[K\n") || !strings.Contains(out.String(), "downloaded m.onnx: 100.0 MiB") {
		t.Errorf("final line: %q", out.String()[strings.LastIndex(out.String(), "\r"):])
	}
}

func TestProgressPlain(t *testing.T) {
	var out bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0), step: time.Millisecond}
	const total = 1 << 20
	p := newProgressAt(&out, false, clk.now, "m.onnx", "https://x/m.onnx", total/4, total)
	for n := int64(total / 4); n <= total; n += 1024 {
		p.update(n)
	}
	p.done(total)
	want := []string{
		"downloading m.onnx (1.0 MiB) from https://x/m.onnx, resuming at 256.0 KiB",
		"m.onnx: 50% (512.0 KiB of 1.0 MiB)",
		"m.onnx: 75% (768.0 KiB of 1.0 MiB)",
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[3], "downloaded m.onnx: 1.0 MiB in ") {
		t.Fatalf("lines:\n%s", out.String())
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d = %q, want %q", i, lines[i], w)
		}
	}
}

func TestProgressUnknownTotal(t *testing.T) {
	var out bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	p := newProgressAt(&out, true, clk.now, "m.onnx", "s3://b/m.onnx", 0, -1)
	p.update(3 << 20)
	if got := out.String(); !strings.Contains(got, "m.onnx  3.0 MiB  3.0 MiB/s") {
		t.Errorf("bar = %q", got)
	}
	p.fail()
	if !strings.HasSuffix(out.String(), "\n") {
		t.Error("fail did not end the bar's line")
	}
	var nilp *progress // a nil progress reports nothing and does not panic
	nilp.update(1)
	nilp.setTotal(1)
	nilp.restart()
	nilp.done(1)
	nilp.fail()
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {102576419, "97.8 MiB"}, {3 << 30, "3.00 GiB"},
	}
	for _, tc := range tests {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := mib(102576419); got != "98 MiB" { // resnet50-v1-12.onnx's size
		t.Errorf("mib = %q", got)
	}
}
