package jpeg

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// input is the compressed data a decoder reads: the whole file in memory,
// or a window over a reader that more moves on. Positions into data (the
// decoder's pos, the scan buffer's p) are valid until the next more.
type input struct {
	data []byte
	r    io.Reader // nil: data is the whole file
	err  error     // the reader's error, other than io.EOF
	eof  bool
	// keep, while set, makes more grow the window instead of dropping the
	// bytes before p, up to maxHeader: Stream keeps its headers whole.
	keep bool
	pool *[]byte // the window's buffer, from windowPool
}

// inputWindow is the compressed data a stream decoder holds: more than the
// largest marker segment (65,535 bytes) plus its marker.
const inputWindow = 96 << 10

// maxHeader bounds the headers a Stream keeps (Stream.Header).
const maxHeader = 1 << 20

var windowPool = sync.Pool{New: func() any {
	b := make([]byte, inputWindow)
	return &b
}}

// errNoProgress is the read error of a reader that returns no data and no
// error, again and again.
var errNoProgress = errors.New("jpeg: reader returns no data")

// more keeps data[p:] and reads more data after it. It returns where p
// is now, and false when nothing more came (the end of the data, or a read
// error, kept in err).
func (in *input) more(p int) (int, bool) {
	if in.r == nil || in.eof || in.err != nil {
		return p, false
	}
	switch {
	case in.keep:
		if len(in.data) == cap(in.data) {
			if cap(in.data) >= maxHeader {
				in.err = errHeaderTooLarge
				return p, false
			}
			in.data = append(in.data, 0)[:len(in.data)]
		}
	case p > 0:
		in.data = in.data[:copy(in.data[:cap(in.data)], in.data[p:])]
		p = 0
	}
	for range 100 {
		n, err := in.r.Read(in.data[len(in.data):cap(in.data)])
		in.data = in.data[:len(in.data)+n]
		switch {
		case err == io.EOF:
			in.eof = true
		case err != nil:
			in.err = err
		}
		if n > 0 {
			return p, true
		}
		if err != nil {
			return p, false
		}
	}
	in.err = errNoProgress
	return p, false
}

// errHeaderTooLarge is a Stream's error for headers over maxHeader.
var errHeaderTooLarge = fmt.Errorf("jpeg: headers over %d bytes", maxHeader)

// ReadError reports that the reader a Stream decodes from failed: the data
// may well be fine, so callers retry rather than call it corrupt.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "jpeg: read: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// avail reports whether d.pos+n bytes of data are there, reading more from
// a reader as needed.
func (d *decoder) avail(n int) bool {
	for d.pos+n > len(d.in.data) {
		p, ok := d.in.more(d.pos)
		d.pos = p
		if !ok {
			return false
		}
	}
	return true
}

// readErr is the reader's error as a *ReadError, if it failed; it
// replaces whatever error the data's ending early caused.
func (d *decoder) readErr(err error) error {
	if d.in.err != nil && d.in.err != errHeaderTooLarge {
		return &ReadError{Err: d.in.err}
	}
	if d.in.err == errHeaderTooLarge {
		return UnsupportedError(errHeaderTooLarge.Error())
	}
	return err
}
