package modelstore

import (
	"fmt"
	"io"
	"time"

	"github.com/mlserve/mlserve/internal/tty"
)

// progress reports a download: a redrawn bar on a terminal (at most every
// progressEvery), otherwise a start line, one line per quarter and a final
// line. A nil *progress reports nothing.
type progress struct {
	w          io.Writer
	tty        bool
	name, url  string
	total      int64 // -1 when unknown
	start      time.Time
	startN     int64 // bytes already there when this session started
	last       time.Time
	drawn      bool // a bar is on the current line
	nextMark   int  // next quarter to report in plain mode, 1..3
	now        func() time.Time
	totalKnown bool
}

const progressEvery = 100 * time.Millisecond // ~10 redraws a second

func newProgress(w io.Writer, name, url string, have, total int64) *progress {
	if w == nil {
		return nil
	}
	return newProgressAt(w, tty.Is(w), time.Now, name, url, have, total)
}

func newProgressAt(w io.Writer, tty bool, now func() time.Time, name, url string, have, total int64) *progress {
	p := &progress{w: w, tty: tty, name: name, url: url, total: -1, now: now, nextMark: 1}
	p.start = now()
	p.startN = have
	if total > 0 {
		p.total, p.totalKnown = total, true
	}
	for p.totalKnown && p.nextMark <= 3 && have*4 >= p.total*int64(p.nextMark) {
		p.nextMark++
	}
	if !tty {
		size := ""
		if p.totalKnown {
			size = " (" + humanBytes(p.total) + ")"
		}
		resume := ""
		if have > 0 {
			resume = ", resuming at " + humanBytes(have)
		}
		fmt.Fprintf(w, "downloading %s%s from %s%s\n", name, size, url, resume)
	}
	return p
}

// setTotal records the size the server announced, when none was expected.
func (p *progress) setTotal(total int64) {
	if p == nil || p.totalKnown || total <= 0 {
		return
	}
	p.total, p.totalKnown = total, true
}

// restart notes that the download starts again from byte 0.
func (p *progress) restart() {
	if p == nil {
		return
	}
	p.start, p.startN, p.nextMark = p.now(), 0, 1
	if !p.tty {
		fmt.Fprintf(p.w, "%s: the server cannot resume; starting over\n", p.name)
	}
}

func (p *progress) update(n int64) {
	if p == nil {
		return
	}
	now := p.now()
	if p.tty {
		if now.Sub(p.last) < progressEvery {
			return
		}
		p.last = now
		fmt.Fprintf(p.w, "\r%s\x1b[K", p.bar(n, now))
		p.drawn = true
		return
	}
	if !p.totalKnown {
		return
	}
	for p.nextMark <= 3 && n*4 >= p.total*int64(p.nextMark) {
		fmt.Fprintf(p.w, "%s: %d%% (%s of %s)\n", p.name, 25*p.nextMark, humanBytes(n), humanBytes(p.total))
		p.nextMark++
	}
}

// done reports a finished download of n bytes.
func (p *progress) done(n int64) {
	if p == nil {
		return
	}
	now := p.now()
	el := now.Sub(p.start)
	line := fmt.Sprintf("downloaded %s: %s in %s (%s/s)", p.name, humanBytes(n), el.Round(100*time.Millisecond), humanBytes(int64(p.rate(n, now))))
	if n == p.startN {
		line = fmt.Sprintf("downloaded %s: %s, all of it by an earlier attempt", p.name, humanBytes(n))
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K\n", line)
		p.drawn = false
		return
	}
	fmt.Fprintln(p.w, line)
}

// fail ends the bar's line so an error message starts on a fresh one.
func (p *progress) fail() {
	if p == nil || !p.drawn {
		return
	}
	fmt.Fprintln(p.w)
	p.drawn = false
}

// rate is this session's speed in bytes per second.
func (p *progress) rate(n int64, now time.Time) float64 {
	el := now.Sub(p.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(n-p.startN) / el
}

// bar renders "name [=====>    ]  45.2 MiB / 97.8 MiB  46%  12.3 MiB/s  ETA 0:04".
func (p *progress) bar(n int64, now time.Time) string {
	rate := p.rate(n, now)
	if !p.totalKnown {
		return fmt.Sprintf("%s  %s  %s/s", p.name, humanBytes(n), humanBytes(int64(rate)))
	}
	frac := min(float64(n)/float64(p.total), 1)
	eta := "--:--"
	if rate > 0 {
		eta = clock(time.Duration(float64(p.total-n) / rate * float64(time.Second)))
	}
	return fmt.Sprintf("%s %s %s / %s  %3.0f%%  %s/s  ETA %s",
		p.name, tty.Bar(n, p.total, 24), humanBytes(n), humanBytes(p.total), frac*100, humanBytes(int64(rate)), eta)
}

// clock formats d as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// humanBytes formats n in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
}

// progressReader reports bytes read through it.
type progressReader struct {
	r io.Reader
	p *progress
	n int64
}

func (r *progressReader) Read(b []byte) (int, error) {
	k, err := r.r.Read(b)
	r.n += int64(k)
	r.p.update(r.n)
	return k, err
}
