package batch

import (
	"fmt"
	"strings"
	"time"

	"github.com/mlserve/mlserve/internal/tty"
)

// startProgress draws a bar on a terminal, or logs a line every
// ProgressEvery, until the returned stop is called.
func (r *runner) startProgress(start time.Time) (stop func()) {
	every := r.cfg.ProgressEvery
	if r.cfg.Terminal && r.cfg.Progress != nil {
		every = 200 * time.Millisecond
	}
	if every < 0 || (r.cfg.Terminal && r.cfg.Progress == nil) {
		return func() {}
	}
	quit, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.report(start, false)
			case <-quit:
				r.report(start, true)
				return
			}
		}
	}()
	return func() { close(quit); <-stopped }
}

func (r *runner) report(start time.Time, final bool) {
	done, total, worked := r.done.Load(), r.total.Load(), r.work.Load()
	elapsed := time.Since(start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(worked) / s
	}
	eta := time.Duration(-1)
	if total >= 0 && rate > 0 {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second)
	}
	if r.cfg.Terminal && r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "\r%s", bar(done, total, rate, eta, 30))
		if final {
			fmt.Fprintln(r.cfg.Progress)
		}
		return
	}
	if final {
		return // the runner logs the summary
	}
	args := []any{"shard", r.cfg.Shard, "done", done, "images_per_sec", round(rate)}
	if total >= 0 {
		args = append(args, "total", total)
	}
	if eta >= 0 {
		args = append(args, "eta", eta.String())
	}
	r.log.Info("batch: progress", args...)
}

// bar renders "[=====>    ] 12/40 3.1 img/s ETA 9s"; total < 0 while the
// inputs are still being listed.
func bar(done, total int64, rate float64, eta time.Duration, width int) string {
	var b strings.Builder
	if total > 0 {
		fmt.Fprintf(&b, "%s %d/%d", tty.Bar(done, total, width), done, total)
	} else if total == 0 {
		fmt.Fprintf(&b, "[%s] 0/0", strings.Repeat(" ", width))
	} else {
		fmt.Fprintf(&b, "%d/? (listing)", done)
	}
	fmt.Fprintf(&b, " %.1f img/s", rate)
	if eta >= 0 {
		fmt.Fprintf(&b, " ETA %s", eta)
	}
	b.WriteString("   ")
	return b.String()
}
