package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// fields parses enginebench's result line, "engine=mlserve batch=1
// ms_per_img=42.30 min_ms_per_img=38.42 ...", into its key=value pairs.
func fields(line string) map[string]string {
	kv := map[string]string{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// result is one enginebench process: its median and fastest run, ms per
// image, and its peak RSS.
type result struct {
	ms, minMs, rssMiB float64
}

// parseResult reads the last result line of an enginebench stdout.
func parseResult(out string) (result, error) {
	var line string
	for l := range strings.Lines(out) {
		if strings.Contains(l, "ms_per_img=") {
			line = l
		}
	}
	if line == "" {
		return result{}, fmt.Errorf("no result line in %q", strings.TrimSpace(out))
	}
	kv := fields(line)
	var r result
	for _, f := range []struct {
		key string
		dst *float64
	}{{"ms_per_img", &r.ms}, {"min_ms_per_img", &r.minMs}, {"peak_rss_mib", &r.rssMiB}} {
		v, err := strconv.ParseFloat(kv[f.key], 64)
		if err != nil {
			return result{}, fmt.Errorf("result line %q: %s: %w", strings.TrimSpace(line), f.key, err)
		}
		*f.dst = v
	}
	return r, nil
}

// opTime is one op's time in one run of a -profile table.
type opTime struct {
	index int
	op    string // the fused op's kinds, "Conv+BatchNormalization+Relu"
	name  string // its output's name
	ms    float64
}

// parseProfile reads the per-op rows of every -profile table in r (the
// engine writes one after every run): "  12  Conv+Relu  /layer2/...  [1 128
// 56 56]  2.279  90.2". Other lines are skipped.
func parseProfile(r io.Reader) ([]opTime, error) {
	var ops []opTime
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		_, rest, ok := strings.Cut(line, "]")
		if !ok {
			continue
		}
		after := strings.Fields(rest)
		if len(after) == 0 {
			continue
		}
		ms, err := strconv.ParseFloat(after[0], 64)
		if err != nil {
			continue
		}
		ops = append(ops, opTime{index: idx, op: f[1], name: f[2], ms: ms})
	}
	return ops, sc.Err()
}
