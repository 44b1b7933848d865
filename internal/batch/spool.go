package batch

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// spool collects JSON lines on a local temporary file, so the records of a
// shard of any size take little memory, and writes them out sorted by key.
// The file is unlinked as soon as it is created: it lives while open, and
// a process killed at any point (kill -9 included) leaves nothing behind.
type spool struct {
	f    *os.File
	name string // still to remove at close: where an open file cannot be unlinked
	w    *bufio.Writer
	off  int64
	idx  []spoolEntry
}

type spoolEntry struct {
	key string
	off int64
	n   int
}

func newSpool(dir, name string) (*spool, error) {
	f, err := os.CreateTemp(dir, name)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	sp := &spool{f: f, w: bufio.NewWriter(f)}
	if err := os.Remove(f.Name()); err != nil {
		sp.name = f.Name() // Windows: removed at close instead
	}
	return sp, nil
}

// add appends one line (line must end in "\n").
func (s *spool) add(key string, line []byte) error {
	if _, err := s.w.Write(line); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.idx = append(s.idx, spoolEntry{key: key, off: s.off, n: len(line)})
	s.off += int64(len(line))
	return nil
}

func (s *spool) len() int { return len(s.idx) }

// sorted flushes and calls fn for each line in key order.
func (s *spool) sorted(fn func(key string, line []byte) error) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	slices.SortFunc(s.idx, func(a, b spoolEntry) int { return strings.Compare(a.key, b.key) })
	var buf []byte
	for _, e := range s.idx {
		buf = slices.Grow(buf[:0], e.n)[:e.n]
		if _, err := s.f.ReadAt(buf, e.off); err != nil && err != io.EOF {
			return fmt.Errorf("spool: %w", err)
		}
		if err := fn(e.key, buf); err != nil {
			return err
		}
	}
	return nil
}

func (s *spool) close() {
	s.f.Close()
	if s.name != "" {
		os.Remove(s.name)
	}
}
