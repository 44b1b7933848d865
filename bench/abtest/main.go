// Command abtest measures engine changes the way this project reports
// them: two or more enginebench binaries (an old and a new engine) run in
// alternation, one fresh process each, round after round, so the host's
// noise falls on both alike; then per model, thread count and batch size it
// prints the median of the per-process medians, the fastest run, both as
// ratios to the first binary, and in how many rounds each was faster:
//
//	go run ./bench/abtest -ref main -rounds 5 -batches 1,8
//	go run ./bench/abtest -rounds 4 -profile /tmp/eb-old /tmp/eb-new
//
// -ref REV builds enginebench at git revision REV (in a temporary
// worktree) and from the working tree, and compares the two. -profile runs
// the engine's per-op profile and adds, per case, the sums of per-op
// minimums and the ops that moved most.
//
// On a shared machine run it the way bench/bench.sh's BENCH_NICE does, in
// a session whose autogroup has a high priority:
//
//	setsid --wait bash -c 'echo -20 > /proc/self/autogroup; exec go run ./bench/abtest ...'
//
// It is pure Go and builds with CGO_ENABLED=0.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type options struct {
	rounds            int
	models, batches   string
	threads           string
	lanes             int
	warmup, iters     int
	maxTime           time.Duration
	profile           bool
	top               int
	ref               string
	bins              []string
	modelList         []string
	batchList, thList []int
}

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("abtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.rounds, "rounds", 5, "rounds; every binary runs once per case per round, the first one first in odd rounds")
	fs.StringVar(&o.models, "models", "../shared/fixtures/models/resnet50-opset11.onnx", "comma-separated ONNX model files (relative to the working directory or the repo root)")
	fs.StringVar(&o.batches, "batches", "1,8", "comma-separated batch sizes")
	fs.StringVar(&o.threads, "threads", "2", "comma-separated thread counts (enginebench -threads)")
	fs.IntVar(&o.lanes, "lanes", 1, "enginebench -lanes")
	fs.IntVar(&o.warmup, "warmup", 2, "enginebench -warmup")
	fs.IntVar(&o.iters, "iters", 10, "enginebench -iters")
	fs.DurationVar(&o.maxTime, "max-time", 10*time.Second, "enginebench -max-time")
	fs.BoolVar(&o.profile, "profile", false, "collect the per-op profile and compare per-op minimums")
	fs.IntVar(&o.top, "top", 12, "with -profile: how many of the ops that moved most to list")
	fs.StringVar(&o.ref, "ref", "", "git revision to build enginebench at and compare with the working tree's")
	return fs
}

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.bins = fs.Args()
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "abtest: %v\n", err)
		return 2
	}
	root, err := repoRoot(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "abtest: %v\n", err)
		return 1
	}
	if o.ref != "" {
		dir, err := os.MkdirTemp("", "abtest-")
		if err != nil {
			fmt.Fprintf(stderr, "abtest: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		built, err := buildPair(ctx, root, o.ref, dir, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "abtest: %v\n", err)
			return 1
		}
		o.bins = append(built, o.bins...)
	}
	if err := measure(ctx, &o, root, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "abtest: %v\n", err)
		return 1
	}
	return 0
}

// check validates the flags and fills the parsed lists.
func (o *options) check() error {
	if o.rounds < 1 {
		return fmt.Errorf("-rounds %d: need at least 1", o.rounds)
	}
	if o.ref == "" && len(o.bins) < 2 {
		return errors.New("need two or more enginebench binaries, or -ref REV")
	}
	var err error
	if o.batchList, err = positiveInts("-batches", o.batches); err != nil {
		return err
	}
	if o.thList, err = positiveInts("-threads", o.threads); err != nil {
		return err
	}
	for m := range strings.SplitSeq(o.models, ",") {
		if m = strings.TrimSpace(m); m != "" {
			o.modelList = append(o.modelList, m)
		}
	}
	if len(o.modelList) == 0 {
		return errors.New("-models: none given")
	}
	return nil
}

// positiveInts parses a comma-separated list of positive integers.
func positiveInts(flagName, s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s %q: want positive integers separated by commas", flagName, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// repoRoot is the top of the git working tree around the working directory.
func repoRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("finding the repository root (run abtest inside the mlserve tree): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// buildPair builds enginebench at rev and from the working tree into dir,
// and returns the two binaries, rev's first.
func buildPair(ctx context.Context, root, rev, dir string, stderr io.Writer) ([]string, error) {
	wt := filepath.Join(dir, "worktree")
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "worktree", "add", "--detach", wt, rev).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git worktree add %s: %w: %s", rev, err, out)
	}
	defer exec.Command("git", "-C", root, "worktree", "remove", "--force", wt).Run()
	old := filepath.Join(dir, "eb-"+sanitize(rev))
	cur := filepath.Join(dir, "eb-worktree")
	for _, b := range []struct{ src, out string }{{wt, old}, {root, cur}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, "./bench/enginebench")
		cmd.Dir, cmd.Stderr = b.src, stderr
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building enginebench in %s: %w", b.src, err)
		}
	}
	return []string{old, cur}, nil
}

// sanitize makes a git revision usable in a file name.
func sanitize(rev string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '~' || r == '^' || r == ':' {
			return '-'
		}
		return r
	}, rev)
}

// resolveModel finds a model path relative to the working directory or,
// failing that, the repo root (where the fixtures' default path is rooted).
func resolveModel(root, m string) (string, error) {
	for _, p := range []string{m, filepath.Join(root, m)} {
		if filepath.IsAbs(m) && p != m {
			break
		}
		if _, err := os.Stat(p); err == nil {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("model %s: not found from the working directory or %s", m, root)
}

// runOne runs one enginebench process and returns its result and, with
// -profile, its per-op rows.
func runOne(ctx context.Context, o *options, bin, model string, threads, batch int) (result, []opTime, error) {
	args := []string{"-model", model, "-batch", strconv.Itoa(batch), "-threads", strconv.Itoa(threads),
		"-lanes", strconv.Itoa(o.lanes), "-warmup", strconv.Itoa(o.warmup), "-iters", strconv.Itoa(o.iters),
		"-max-time", o.maxTime.String()}
	if o.profile {
		args = append(args, "-profile")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return result{}, nil, fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	r, err := parseResult(stdout.String())
	if err != nil {
		return result{}, nil, fmt.Errorf("%s: %w", bin, err)
	}
	var ops []opTime
	if o.profile {
		if ops, err = parseProfile(&stderr); err != nil {
			return result{}, nil, fmt.Errorf("%s: reading its profile: %w", bin, err)
		}
	}
	return r, ops, nil
}

// lastLines is the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
