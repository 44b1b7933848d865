package shiptest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// TestLocalStackBursts measures, on the local stack with the submitter's
// defaults (30 s window, 6,000 images per child, direct bursts of up to 5),
// how many invocations, SubmitJob calls, array children and task starts a
// burst of uploads makes, beside one job per upload (the design before the
// queue). It runs only when MLSERVE_BURSTS lists the burst sizes:
//
//	MLSERVE_BURSTS=1,10,1000,10000 go test -run TestLocalStackBursts -v -timeout 30m ./internal/shiptest/
func TestLocalStackBursts(t *testing.T) {
	spec := os.Getenv("MLSERVE_BURSTS")
	if spec == "" {
		t.Skip("a measurement, not a test: set MLSERVE_BURSTS=1,10,1000,10000 to run it (BENCHMARKS.md)")
	}
	st := startStack(t, "VISIBILITY_TIMEOUT=600", "WINDOW=30s")
	ctx, cancel := context.WithTimeout(context.Background(), 28*time.Minute)
	defer cancel()
	img, err := os.ReadFile(testsupport.Fixtures(t, "images", "scene-640x427-q90.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			t.Fatal(err)
		}
		w0, j0, c0 := st.marks(t)
		start := time.Now()
		keys := st.upload(ctx, t, fmt.Sprintf("input/burst-%d/", n), n, img)
		uploaded := time.Since(start)
		st.waitOutputs(ctx, t, keys)
		if n > 5 {
			st.waitJobs(ctx, t, j0+1)
		}
		p := st.since(t, w0, j0, c0)
		children := 0
		for _, j := range p.jobs {
			children += max(j.ArraySize, 1)
		}
		row := fmt.Sprintf("| %d | %d | %d | %d | %d | %d / %d | %.0f s | %.0f s |", n, len(p.windows), p.calls, children, children, n, n,
			uploaded.Seconds(), time.Since(start).Seconds())
		t.Log(row)
		rows = append(rows, row)
	}
	t.Log("\n| uploads | invocations | SubmitJob calls | array children | task starts | before: SubmitJob calls / task starts | upload time | last result after |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n" + strings.Join(rows, "\n"))
}
