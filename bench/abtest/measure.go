package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
)

// caseData is every round of one case: rounds[b][r] for binary b.
type caseData struct {
	key    caseKey
	rounds [][]result
	ops    []map[int]*opStats
}

// measure runs the rounds and prints one table per case. Within a round
// the binaries run in the given order in odd rounds and reversed in even
// ones (ABBA), so a trend in the host's speed favours none of them.
func measure(ctx context.Context, o *options, root string, stdout, stderr io.Writer) error {
	var cases []*caseData
	for _, m := range o.modelList {
		path, err := resolveModel(root, m)
		if err != nil {
			return err
		}
		for _, th := range o.thList {
			for _, b := range o.batchList {
				c := &caseData{key: caseKey{model: path, threads: th, batch: b}, rounds: make([][]result, len(o.bins))}
				for range o.bins {
					c.ops = append(c.ops, map[int]*opStats{})
				}
				cases = append(cases, c)
			}
		}
	}
	names := binNames(o.bins)
	for r := range o.rounds {
		order := make([]int, len(o.bins))
		for i := range order {
			order[i] = i
		}
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, c := range cases {
			for _, b := range order {
				res, ops, err := runOne(ctx, o, o.bins[b], c.key.model, c.key.threads, c.key.batch)
				if err != nil {
					return err
				}
				c.rounds[b] = append(c.rounds[b], res)
				collectOps(c.ops[b], ops)
				fmt.Fprintf(stderr, "abtest: round %d/%d %s threads=%d batch=%d: %s ms_per_img=%.2f min_ms_per_img=%.2f\n",
					r+1, o.rounds, filepath.Base(c.key.model), c.key.threads, c.key.batch, names[b], res.ms, res.minMs)
			}
		}
	}
	for _, c := range cases {
		c.key.model = filepath.Base(c.key.model)
		writeCase(stdout, c.key, names, c.rounds)
		if o.profile {
			writeOps(stdout, names, c.ops, o.top)
		}
	}
	return nil
}

// binNames are the binaries' base names, with their index where two are
// the same.
func binNames(bins []string) []string {
	names := make([]string, len(bins))
	seen := map[string]int{}
	for i, b := range bins {
		names[i] = filepath.Base(b)
		seen[names[i]]++
	}
	for i := range names {
		if seen[names[i]] > 1 {
			names[i] = fmt.Sprintf("%s#%d", names[i], i+1)
		}
	}
	return names
}
