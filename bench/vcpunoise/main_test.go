package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts [][]int
		want   string
	}{
		{
			// The first and last windows are dropped; then thread 1 is
			// slow in one of four windows, both in one.
			name:   "one and both slow",
			counts: [][]int{{0, 10, 10, 10, 4, 0}, {0, 10, 5, 10, 5, 0}},
			want:   "vcpu_noise threads=2 windows=4 all_fast=0.50 one_slow=0.25 more_slow=0.25 slowest_thread=0.72",
		},
		{
			name:   "steady",
			counts: [][]int{{3, 9, 9, 9, 1}, {3, 9, 8, 9, 1}},
			want:   "vcpu_noise threads=2 windows=3 all_fast=1.00 one_slow=0.00 more_slow=0.00 slowest_thread=0.96",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize(tc.counts, 0.75); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-threads", "2", "-duration", "300ms", "-window", "20ms"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "vcpu_noise threads=2 windows=13 ") {
		t.Errorf("output %q", out.String())
	}
	// More threads than CPUs (and than a fixed table would hold) is
	// allowed: each thread's windows are still counted.
	out.Reset()
	if code := run([]string{"-threads", "70", "-duration", "60ms", "-window", "20ms"}, &out, &errb); code != 0 {
		t.Fatalf("-threads 70: exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "vcpu_noise threads=70 ") {
		t.Errorf("-threads 70: output %q", out.String())
	}
	// The memory units: the same line, marked with the buffer's size.
	out.Reset()
	if code := run([]string{"-threads", "2", "-duration", "100ms", "-window", "20ms", "-memory-mib", "4"}, &out, &errb); code != 0 {
		t.Fatalf("-memory-mib 4: exit %d: %s", code, errb.String())
	}
	if got := out.String(); !strings.HasPrefix(got, "vcpu_noise threads=2 windows=3 ") || !strings.HasSuffix(got, " memory_mib=4\n") {
		t.Errorf("-memory-mib 4: output %q", got)
	}
	if code := run([]string{"-memory-mib", "-1"}, &out, &errb); code != 2 {
		t.Errorf("-memory-mib -1: exit %d, want 2", code)
	}
	if code := run([]string{"-duration", "10ms", "-window", "50ms"}, &out, &errb); code != 2 {
		t.Errorf("a duration under two windows: exit %d, want 2", code)
	}
}
