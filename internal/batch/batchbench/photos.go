package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// photoSizes are the two inputs issue 11 compares: `mlserve batch` over 12
// MP photos should make at least 0.8x its throughput over 768x576 photos,
// with peak RSS no higher.
var photoSizes = [2]string{"768x576", "4032x3024"}

// photoRun is one binary's measurement of both photo sizes in one round.
type photoRun struct {
	cpu [2]float64 // CPU ms per image: (n-input run - 1-input run) / (n-1)
	rss [2]float64 // peak RSS of the n-input run, MiB
}

func (p photoRun) ratio() float64  { return p.cpu[0] / p.cpu[1] }
func (p photoRun) rssGap() float64 { return p.rss[1] - p.rss[0] }

// photoRatio measures each binary of bins (comma-separated) over rounds
// alternating rounds: per photo size, a 1-input run then an n-input run,
// CPU per image from their difference (throughput on one core, what a
// shared machine's wall clock cannot show), peak RSS of the n-input run.
// It prints every round and, per binary, the median and mean of the
// throughput ratio (12 MP against 768x576) and of the RSS gap.
func photoRatio(fixtures, model, bins, tmp string, n, rounds, bs int) {
	var photos [2][]byte
	for i, s := range photoSizes {
		photos[i] = makePhoto(fixtures, s)
	}
	var dirs [2][2]string // [size][1 input, n inputs]
	for i := range photos {
		for j, k := range []int{1, n} {
			dirs[i][j] = filepath.Join(tmp, fmt.Sprintf("photo-%s-%d", photoSizes[i], k))
			makeInputs(dirs[i][j], [][]byte{photos[i]}, k)
		}
	}
	list := strings.Split(bins, ",")
	runs := make([][]photoRun, len(list))
	fmt.Printf("batch over %d photos, %s vs %s (%d and %d bytes), model %s, batch size %d, %d rounds\n",
		n, photoSizes[1], photoSizes[0], len(photos[1]), len(photos[0]), filepath.Base(model), bs, rounds)
	fmt.Printf("load average %s, autogroup %s\n", readTrim("/proc/loadavg"), readTrim("/proc/self/autogroup"))
	for r := range rounds {
		for b := range list {
			b = (b + r) % len(list) // who goes first alternates
			var p photoRun
			for i := range photos {
				one, _ := batchRun(list[b], model, dirs[i][0], tmp, bs)
				all, rss := batchRun(list[b], model, dirs[i][1], tmp, bs)
				p.cpu[i] = (all - one).Seconds() * 1000 / float64(n-1)
				p.rss[i] = float64(rss) / 1024
			}
			runs[b] = append(runs[b], p)
			fmt.Printf("round %d %-24s small %6.1f ms %6.1f MiB | 12 MP %6.1f ms %6.1f MiB | ratio %.3fx, RSS gap %+6.1f MiB\n",
				r+1, list[b], p.cpu[0], p.rss[0], p.cpu[1], p.rss[1], p.ratio(), p.rssGap())
		}
	}
	for b, name := range list {
		var ratio, gap, small, big []float64
		for _, p := range runs[b] {
			ratio, gap = append(ratio, p.ratio()), append(gap, p.rssGap())
			small, big = append(small, p.cpu[0]), append(big, p.cpu[1])
		}
		fmt.Printf("%s: CPU per image small %.1f, 12 MP %.1f ms (medians); ratio median %.3fx, mean %.3fx, min %.3fx; "+
			"RSS gap median %+.1f, mean %+.1f, max %+.1f MiB\n", name, median(small), median(big),
			median(ratio), mean(ratio), slices.Min(ratio), median(gap), mean(gap), slices.Max(gap))
	}
}

// batchRun runs bin's batch command over in, into a fresh output folder,
// and returns the child's CPU time and peak RSS (KiB).
func batchRun(bin, model, in, tmp string, bs int) (time.Duration, int64) {
	out, err := os.MkdirTemp(tmp, "out-")
	check(err)
	defer os.RemoveAll(out)
	cmd := exec.Command(bin, "batch", "--model", model, "--input", in, "--output", out,
		"--batch-size", fmt.Sprint(bs), "--progress-interval", "1h")
	cmd.Env = append(os.Environ(), "MLSERVE_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	rss := peakRSS(cmd)
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rss
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mean(v []float64) float64 {
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t / float64(len(v))
}
