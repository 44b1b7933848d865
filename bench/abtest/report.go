package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// caseKey is one measured configuration.
type caseKey struct {
	model          string
	threads, batch int
}

func (k caseKey) String() string {
	return fmt.Sprintf("model %s, threads %d, batch %d", k.model, k.threads, k.batch)
}

// median of xs (not modified); NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// binSummary is one binary's rounds of one case.
type binSummary struct {
	median, min, rss float64
	wins, pairs      int // rounds faster than the first binary in the same round, of those compared
}

// summarize reduces each binary's rounds (rounds[b][r]) to its summary.
// Round r of every binary ran in the same round, so the wins compare like
// with like; a missing round (a failed process) is NaN and compares false.
func summarize(rounds [][]result) []binSummary {
	out := make([]binSummary, len(rounds))
	for b, rs := range rounds {
		var ms, rss []float64
		s := binSummary{min: math.Inf(1)}
		for r, x := range rs {
			ms = append(ms, x.ms)
			rss = append(rss, x.rssMiB)
			s.min = math.Min(s.min, x.minMs)
			if b > 0 && r < len(rounds[0]) {
				s.pairs++
				if x.ms < rounds[0][r].ms {
					s.wins++
				}
			}
		}
		s.median, s.rss = median(ms), median(rss)
		out[b] = s
	}
	return out
}

// writeCase prints one case's whole-model table: per binary the median of
// the per-process medians, the fastest run, both as ratios to the first
// binary, the rounds it was faster in, and its peak RSS.
func writeCase(w io.Writer, k caseKey, names []string, rounds [][]result) {
	sum := summarize(rounds)
	fmt.Fprintf(w, "\n%v, %d rounds (ms per image)\n", k, len(rounds[0]))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "binary\tmedian\tmin\tmedian ratio\tmin ratio\tfaster rounds\tpeak RSS MiB\t")
	for b, s := range sum {
		wins := "-"
		if b > 0 {
			wins = fmt.Sprintf("%d/%d", s.wins, s.pairs)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.3f\t%.3f\t%s\t%.1f\t\n", names[b], s.median, s.min,
			s.median/sum[0].median, s.min/sum[0].min, wins, s.rss)
	}
	tw.Flush()
}

// opStats is one op's times over every run of one binary.
type opStats struct {
	op, name string
	ms       []float64
}

// collectOps groups profile rows by op index.
func collectOps(into map[int]*opStats, ops []opTime) {
	for _, o := range ops {
		s := into[o.index]
		if s == nil {
			s = &opStats{op: o.op, name: o.name}
			into[o.index] = s
		}
		s.ms = append(s.ms, o.ms)
	}
}

// writeOps prints each binary's sum of per-op minimums and medians, and the
// ops whose minimum moved most against the first binary: per-op minimums
// are the quietest view on a noisy host.
func writeOps(w io.Writer, names []string, ops []map[int]*opStats, top int) {
	if len(ops) == 0 || len(ops[0]) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "binary\tops\truns per op\tsum of per-op min\tsum of per-op median\t")
	for b, m := range ops {
		var smin, smed float64
		runs := 0
		for _, s := range m {
			smin += slices.Min(s.ms)
			smed += median(s.ms)
			runs = max(runs, len(s.ms))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t\n", names[b], len(m), runs, smin, smed)
	}
	tw.Flush()
	for b := 1; b < len(ops); b++ {
		type row struct {
			index      int
			s          *opStats
			base, this float64
		}
		var rows []row
		for i, s := range ops[b] {
			if a := ops[0][i]; a != nil && a.op == s.op {
				rows = append(rows, row{i, s, slices.Min(a.ms), slices.Min(s.ms)})
			}
		}
		slices.SortFunc(rows, func(x, y row) int {
			return cmp.Compare(math.Abs(y.this-y.base), math.Abs(x.this-x.base))
		})
		fmt.Fprintf(w, "ops that moved most, %s against %s (per-op min, ms):\n", names[b], names[0])
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "op\tkind\toutput\t%s\t%s\tratio\t\n", names[0], names[b])
		for _, r := range rows[:min(top, len(rows))] {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.3f\t%.3f\t%.3f\t\n", r.index, r.s.op, tail(r.s.name, 48), r.base, r.this, r.this/r.base)
		}
		tw.Flush()
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
