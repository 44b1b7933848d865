//go:build ignore

// mutation_retest runs a package's tests against mutants listed in a
// gremlins report (make mutation's JSON), applying each mutation as
// gremlins does (the operator at the reported line and column) in a copy
// of the module. Two uses:
//
//   - A full report: the survivors (LIVED, TIMED OUT) are re-tested with
//     the tests as they are now. Tests are only ever added, so a mutant
//     killed then is killed now; it prints the efficacy after.
//
//     go run mk/mutation_retest.go -report .cache/mutation-before/httpapi.json -pkg internal/httpapi
//
//   - A dry-run report (gremlins --dry-run -o: RUNNABLE mutants) and
//     -sample N: one mutant in N, chosen by position, is tested, for an
//     efficacy estimate where a whole run takes hours (the same positions
//     are chosen in any tree).
//
//     go run mk/mutation_retest.go -report dry.json -pkg internal/imageprep -sample 8
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

type report struct {
	Files []struct {
		Name      string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

// swaps are gremlins' mutators: operator before -> after, per mutant type.
var swaps = map[string]map[string]string{
	"CONDITIONALS_BOUNDARY": {"<=": "<", ">=": ">", "<": "<=", ">": ">="},
	"CONDITIONALS_NEGATION": {"==": "!=", "!=": "==", "<=": ">", ">=": "<", "<": ">=", ">": "<="},
	"ARITHMETIC_BASE":       {"+": "-", "-": "+", "*": "/", "/": "*", "%": "*"},
	"INCREMENT_DECREMENT":   {"++": "--", "--": "++"},
	"INVERT_NEGATIVES":      {"-": "+"},
}

func main() {
	rep := flag.String("report", "", "gremlins JSON report (make mutation's -o)")
	pkg := flag.String("pkg", "", "the package directory, e.g. internal/httpapi")
	skip := flag.String("skip", "^(TestTop1FastEqualsExact|TestJPEGFastMatchesExact)$", "go test -skip")
	timeout := flag.Duration("timeout", 5*time.Minute, "per mutant")
	sample := flag.Int("sample", 0, "test one RUNNABLE mutant in this many (dry-run reports)")
	flag.Parse()
	if err := run(*rep, *pkg, *skip, *timeout, *sample); err != nil {
		fmt.Fprintln(os.Stderr, "mutation_retest:", err)
		os.Exit(1)
	}
}

func run(repPath, pkg, skip string, timeout time.Duration, sample int) error {
	b, err := os.ReadFile(repPath)
	if err != nil {
		return err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", repPath, err)
	}
	tmp, err := os.MkdirTemp("", "mutation-retest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyModule(".", tmp); err != nil {
		return err
	}
	killed, lived, timedOut, nowKilled, nowLived, nowTimedOut := 0, 0, 0, 0, 0, 0
	for _, f := range r.Files {
		for _, m := range f.Mutations {
			switch m.Status {
			case "KILLED":
				killed++
				continue
			case "LIVED":
				lived++
			case "TIMED OUT":
				timedOut++
			case "RUNNABLE":
				if sample <= 0 || sampled(f.Name, m.Type, m.Line, m.Column)%sample != 0 {
					continue
				}
			default:
				continue
			}
			status, err := retest(tmp, pkg, f.Name, m.Type, m.Line, m.Column, skip, timeout)
			if err != nil {
				return err
			}
			switch status {
			case "KILLED":
				nowKilled++
			case "LIVED":
				nowLived++
			default:
				nowTimedOut++
			}
			fmt.Printf("%-9s (was %-9s) %s at %s:%d:%d\n", status, m.Status, m.Type, f.Name, m.Line, m.Column)
		}
	}
	eff := func(k, l int) float64 { return 100 * float64(k) / float64(k+l) }
	if killed+lived+timedOut == 0 {
		fmt.Printf("sample of 1 in %d: killed %d, lived %d, timed out %d: efficacy %.2f%%\n",
			sample, nowKilled, nowLived, nowTimedOut, eff(nowKilled, nowLived))
		return nil
	}
	fmt.Printf("before: killed %d, lived %d, timed out %d: efficacy %.2f%%\n", killed, lived, timedOut, eff(killed, lived))
	fmt.Printf("after:  killed %d, lived %d, timed out %d: efficacy %.2f%%\n",
		killed+nowKilled, nowLived, nowTimedOut, eff(killed+nowKilled, nowLived))
	return nil
}

// sampled is a position's hash (FNV-1a), the same in every tree.
func sampled(file, typ string, line, col int) int {
	h := uint32(2166136261)
	for _, c := range []byte(fmt.Sprintf("%s:%s:%d:%d", file, typ, line, col)) {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h >> 1)
}

// retest applies one mutation in the copy, runs the package's tests, and
// restores the file.
func retest(root, pkg, file, typ string, line, col int, skip string, timeout time.Duration) (string, error) {
	path := filepath.Join(root, pkg, file)
	orig, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	defer os.WriteFile(path, orig, 0o644) //nolint:errcheck // best effort restore of a temporary copy
	lines := strings.SplitAfter(string(orig), "\n")
	if line < 1 || line > len(lines) || col < 1 || col > len(lines[line-1]) {
		return "", fmt.Errorf("%s:%d:%d: no such position", file, line, col)
	}
	l, at := lines[line-1], col-1
	done := false
	for _, width := range []int{2, 1} { // two-character operators first
		if at+width > len(l) {
			continue
		}
		if to, ok := swaps[typ][l[at:at+width]]; ok {
			lines[line-1] = l[:at] + to + l[at+width:]
			done = true
			break
		}
	}
	if !done {
		return "", fmt.Errorf("%s:%d:%d: no %s operator at %q", file, line, col, typ, l[at:])
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "test", "-count=1", "-vet=off", "-failfast", "-timeout", timeout.String(), "-skip", skip, "./"+pkg)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "LIVED", nil
	case strings.Contains(string(out), "[build failed]"):
		return "NOT VIABLE", nil
	case strings.Contains(string(out), "panic: test timed out"):
		return "TIMED OUT", nil
	case errors.As(err, &ee):
		return "KILLED", nil
	}
	return "", fmt.Errorf("go test: %v: %s", err, out)
}

// copyModule copies the module's files (not .git, .cache, bin or
// node_modules) from src to dst.
func copyModule(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".cache", "bin", "node_modules", "cdk.out":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}
