package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestMakespan(t *testing.T) {
	unit := func(lo, hi int) float64 { return float64(hi - lo) }
	for _, c := range []struct {
		th, parts, units int
		want             float64
	}{
		{2, 2, 10, 5},  // two equal halves
		{2, 3, 12, 8},  // three shares of 4 on two threads: one thread runs two
		{1, 4, 10, 10}, // one thread runs everything
		{2, 1, 7, 7},   // one share
		{3, 3, 9, 3},
	} {
		if got := makespan(c.th, c.parts, c.units, unit); got != c.want {
			t.Errorf("makespan(%d threads, %d parts, %d units) = %v, want %v", c.th, c.parts, c.units, got, c.want)
		}
	}
	// Shrinking shares (parts >= 2*th): the total over the threads, plus
	// at most the last (smallest) share.
	if got := makespan(2, 8, 64, unit); got < 32 || got > 32+float64(64/8) {
		t.Errorf("makespan(2, 8, 64) = %v, want 32 to 40", got)
	}
}

// TestMulSplitModel checks C where the split model overrules the units'
// balance (N shares for m = 32 where M shares would pack B, as measured in
// BenchmarkSplitAB), and the
// same products with the model off, on two and three threads.
func TestMulSplitModel(t *testing.T) {
	defer func(m bool) { splitModel = m }(splitModel)
	for _, procs := range []int{2, 3} {
		for _, model := range []bool{true, false} {
			for _, s := range [][3]int{{32, 192, 784}, {32, 144, 784}, {24, 200, 3136}, {192, 300, 49}, {40, 96, 2000}} {
				t.Run(fmt.Sprintf("procs=%d/model=%v/%dx%dx%d", procs, model, s[0], s[1], s[2]), func(t *testing.T) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					splitModel = model
					rng := rand.New(rand.NewPCG(uint64(s[0]), uint64(s[2])))
					p := newProblem(rng, s[0], s[1], s[2], "all")
					kerns := kernelNames()
					if raceEnabled { // as in TestMulOwnB
						kerns = []string{active.name}
					}
					var want, mag []float64
					for _, kern := range kerns {
						backing, res := p.run(t, kern, guard+3)
						if want == nil {
							want, mag = p.reference(res)
						}
						p.checkWant(t, kern, backing, guard+3, res, want, mag)
					}
				})
			}
		}
	}
	splitModel = true
	pa := PackA(make([]float32, 32*192), 32, 192)
	j, mt, nt := newJob(make([]float32, 32*784), pa, make([]float32, 192*784), nil, 784, Epilogue{})
	if j.planUnits(2, mt, nt, 2*32*192*784).byN {
		t.Skip("the units' balance splits N here already (another tile shape)")
	}
	// M shares that each pack all of B lose to N shares here; M shares
	// that read B in place (fewRowsInPlace) pack nothing, and measured as
	// fast as N (BenchmarkSplitAB 0.99-1.01, BENCHMARKS.md issue 12
	// session 6 lead).
	switch p := j.planSplit(2, mt, nt, 2*32*192*784); {
	case !p.byN && !j.fewRowsInPlace():
		t.Errorf("32x192x784 on 2 threads: plan %+v, want N shares, or M shares with B read in place", p)
	case p.byN && p.parts < 4:
		t.Errorf("32x192x784 on 2 threads: plan %+v, want at least 4 N shares", p)
	}
}

// TestMulOwnB checks C where a plain B's product splits M into shares that
// each thread's own packed B serves (plan.own): ResNet-50's batch-1 shapes
// and odd ones (a gemv column, k past one k block, rows past a panel), on
// two and three threads, with the plan checked to be own where it splits
// M (other kernels' tiles split some in N) but for few rows that read B in
// place (128 x 512 x 784 on the 8-row tile: fewRowsInPlace).
func TestMulOwnB(t *testing.T) {
	defer func(v bool) { ownB = v }(ownB)
	ownB = true
	owned := 0
	for _, procs := range []int{2, 3} {
		for _, s := range [][3]int{{512, 128, 784}, {128, 512, 784}, {2048, 512, 49}, {520, 300, 50}, {1030, 257, 17}} {
			t.Run(fmt.Sprintf("procs=%d/%dx%dx%d", procs, s[0], s[1], s[2]), func(t *testing.T) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				defer Share()()
				rng := rand.New(rand.NewPCG(uint64(s[0]), uint64(s[1])))
				p := newProblem(rng, s[0], s[1], s[2], "all")
				var want, mag []float64 // the float64 reference, once per shape
				kerns := kernelNames()
				if raceEnabled {
					// The threads' own buffers are the same on every kernel,
					// and -race slows the Go kernel's loops 10x: 200 s.
					kerns = []string{active.name}
				}
				for _, kern := range kerns {
					pa := packA(p.a, p.m, p.k, kernelByName(kern))
					j, mt, nt := newJob(make([]float32, p.m*p.n), pa, p.b, nil, p.n, Epilogue{})
					pl := j.planSplit(procs, mt, nt, 2*p.m*p.k*p.n)
					switch few := j.fewRowsInPlace(); {
					case few && pl.own:
						t.Fatalf("%s: plan %+v, want B read in place (few rows)", kern, pl)
					case !few && !pl.byN && !pl.own:
						t.Fatalf("%s: plan %+v, want own", kern, pl)
					}
					if pl.own {
						owned++
					}
					for range 3 { // the threads' buffers come back from the pool
						backing, res := p.run(t, kern, guard+1)
						if want == nil {
							want, mag = p.reference(res)
						}
						p.checkWant(t, kern, backing, guard+1, res, want, mag)
					}
				}
			})
		}
	}
	if owned < 4 {
		t.Fatalf("%d products ran own shares", owned)
	}
}
