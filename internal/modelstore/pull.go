package modelstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PullOptions says what to download and where.
type PullOptions struct {
	URL    string
	Size   int64  // expected size in bytes; 0 when unknown
	SHA256 string // expected hex sha256; "" to skip the check
	Dest   string // final path; the download goes to Dest+".part" first
	// Progress receives a progress bar when it is a terminal, a few plain
	// lines otherwise; nil for nothing.
	Progress io.Writer
	Client   *http.Client // nil means http.DefaultClient
	// Force downloads again even when Dest already holds the expected file.
	Force bool
}

// StatusError is an HTTP response that is neither 200 nor 206.
type StatusError struct {
	URL        string
	StatusCode int
	Status     string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: server answered %s", e.URL, e.Status)
}

// Download tuning; variables so tests can shorten them.
var (
	maxAttempts  = 5                // tries in a row that fetch nothing before Pull gives up
	retryBackoff = time.Second      // wait before a retry that made no progress
	stallTimeout = 60 * time.Second // give up on a connection silent this long
)

var errStalled = errors.New("connection stalled")

// permanent marks errors that a retry cannot fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Pull downloads o.URL to o.Dest. It resumes a .part file left by an
// earlier attempt (HTTP Range), retries dropped connections, checks the
// size and sha256 before the final rename, and never leaves a partial file
// at Dest. A file with the wrong size or sha256 is deleted, .part included;
// on cancellation the .part stays for the next Pull to resume. When Dest
// already holds the expected file (Size and SHA256 set), Pull does nothing
// unless o.Force is set. Concurrent Pulls into one directory (in one or
// several processes) wait for each other.
func Pull(ctx context.Context, o PullOptions) error {
	if o.URL == "" || o.Dest == "" {
		return errors.New("pull: URL and Dest are required")
	}
	if err := os.MkdirAll(filepath.Dir(o.Dest), 0o755); err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	unlock, err := lockDir(ctx, filepath.Dir(o.Dest))
	if err != nil {
		return fmt.Errorf("pull %s: %w", o.Dest, err)
	}
	defer unlock()
	if o.Force {
		if err := removeAll(o.Dest); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
	} else if o.SHA256 != "" && verifyFile(o.Dest, o.Size, o.SHA256) == nil {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%s is already downloaded and verified\n", o.Dest)
		}
		return nil
	}
	d := &download{o: o, client: o.Client, part: o.Dest + ".part"}
	if d.client == nil {
		d.client = http.DefaultClient
	}
	if err := d.run(ctx); err != nil {
		return fmt.Errorf("download %s: %w", o.URL, err)
	}
	return nil
}

type download struct {
	o      PullOptions
	client *http.Client
	part   string
	f      *os.File
	h      hash.Hash
	n      int64 // bytes in the .part file
	p      *progress
}

func (d *download) run(ctx context.Context) (err error) {
	d.f, err = os.OpenFile(d.part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if d.f != nil {
			d.f.Close()
		}
		if errors.As(err, new(*MismatchError)) || (err != nil && d.n == 0) {
			os.Remove(d.part) // a wrong or empty file is of no use to a resume
		}
	}()
	// Hash what an earlier attempt left, then append after it.
	d.h = sha256.New()
	if d.n, err = io.Copy(d.h, d.f); err != nil {
		return fmt.Errorf("read %s: %w", d.part, err)
	}
	if d.o.Size > 0 && d.n > d.o.Size {
		if err := d.restart(); err != nil {
			return err
		}
	}
	d.p = newProgress(d.o.Progress, filepath.Base(d.o.Dest), d.o.URL, d.n, d.o.Size)
	defer func() {
		if err != nil {
			d.p.fail()
		}
	}()

	// A .part of the expected size is complete: only the checks remain.
	for attempt := 1; d.o.Size <= 0 || d.n < d.o.Size; attempt++ {
		before := d.n
		err := d.fetch(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%s kept in %s; run again to resume)", ctx.Err(), humanBytes(d.n), d.part)
		}
		if errors.As(err, new(permanent)) || attempt >= maxAttempts {
			return err
		}
		slog.DebugContext(ctx, "download interrupted, retrying", "url", d.o.URL, "have", d.n, "attempt", attempt, "err", err)
		if d.n != before {
			attempt = 0 // count only attempts in a row that get nowhere
		} else {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (%s kept in %s; run again to resume)", ctx.Err(), humanBytes(d.n), d.part)
			case <-time.After(retryBackoff * time.Duration(attempt)):
			}
		}
	}

	if d.o.Size > 0 && d.n != d.o.Size {
		return &MismatchError{What: "size", Got: strconv.FormatInt(d.n, 10), Want: strconv.FormatInt(d.o.Size, 10)}
	}
	sum := hex.EncodeToString(d.h.Sum(nil))
	if want := strings.ToLower(d.o.SHA256); want != "" && sum != want {
		return &MismatchError{What: "sha256", Got: sum, Want: want}
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", d.part, err)
	}
	err = d.f.Close()
	d.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", d.part, err)
	}
	if err := os.Rename(d.part, d.o.Dest); err != nil {
		return err
	}
	_ = writeStamp(d.o.Dest, sum) // saves hashing the file on the next verify
	d.p.done(d.n)
	return nil
}

// restart empties the .part file.
func (d *download) restart() error {
	if err := d.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", d.part, err)
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", d.part, err)
	}
	d.h.Reset()
	d.n = 0
	d.p.restart()
	return nil
}

// fetch makes one request for the bytes after d.n and appends them.
func (d *download) fetch(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.o.URL, nil)
	if err != nil {
		return permanent{err}
	}
	// Byte offsets only mean something without transfer compression.
	req.Header.Set("Accept-Encoding", "identity")
	if d.n > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", d.n))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	total := int64(-1)
	switch resp.StatusCode {
	case http.StatusOK:
		if d.n > 0 { // the server ignored Range: start over
			if err := d.restart(); err != nil {
				return permanent{err}
			}
		}
		total = resp.ContentLength
	case http.StatusPartialContent:
		start, size, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return permanent{fmt.Errorf("206 response: %w", err)}
		}
		if start != d.n {
			if err := d.restart(); err != nil {
				return permanent{err}
			}
			return fmt.Errorf("server resumed at byte %d, want %d; starting over", start, d.n)
		}
		total = size
	case http.StatusRequestedRangeNotSatisfiable:
		// The .part is at or past the end of the file.
		_, size, err := parseContentRange(resp.Header.Get("Content-Range"))
		if (err == nil && size == d.n) || (d.o.Size > 0 && d.n == d.o.Size) {
			return nil
		}
		if err := d.restart(); err != nil {
			return permanent{err}
		}
		return errors.New("server refused the resume range; starting over")
	default:
		return permanent{&StatusError{URL: d.o.URL, StatusCode: resp.StatusCode, Status: resp.Status}}
	}
	if d.o.Size > 0 && total >= 0 && total != d.o.Size {
		return permanent{&MismatchError{What: "size", Got: strconv.FormatInt(total, 10), Want: strconv.FormatInt(d.o.Size, 10)}}
	}
	d.p.setTotal(total)

	stall := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	buf := make([]byte, 256<<10)
	for {
		k, rerr := resp.Body.Read(buf)
		if k > 0 {
			stall.Reset(stallTimeout)
			if _, err := d.f.Write(buf[:k]); err != nil {
				return permanent{fmt.Errorf("write %s: %w", d.part, err)}
			}
			d.h.Write(buf[:k])
			d.n += int64(k)
			if d.o.Size > 0 && d.n > d.o.Size {
				return permanent{&MismatchError{What: "size", Got: "more than " + strconv.FormatInt(d.o.Size, 10), Want: strconv.FormatInt(d.o.Size, 10)}}
			}
			d.p.update(d.n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if errors.Is(context.Cause(ctx), errStalled) {
				return fmt.Errorf("%w: no data for %s", errStalled, stallTimeout)
			}
			return rerr
		}
	}
	if total >= 0 && d.n != total {
		return fmt.Errorf("connection closed at byte %d of %d: %w", d.n, total, io.ErrUnexpectedEOF)
	}
	return nil
}

// parseContentRange parses "bytes <first>-<last>/<size>" (206) or
// "bytes */<size>" (416) and returns first (-1 for "*") and size (-1 for
// "*").
func parseContentRange(s string) (first, size int64, err error) {
	bad := fmt.Errorf("bad Content-Range %q", s)
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !ok {
		return 0, 0, bad
	}
	rng, sz, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, bad
	}
	size = -1
	if sz != "*" {
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size < 0 {
			return 0, 0, bad
		}
	}
	if rng == "*" {
		if size < 0 {
			return 0, 0, bad
		}
		return -1, size, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, bad
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first || (size >= 0 && last >= size) {
		return 0, 0, bad
	}
	return first, size, nil
}
