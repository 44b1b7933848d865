package jpeg

import (
	"bytes"
	"sync"
)

// scanBuffer holds a window of one restart interval (segment) of a scan's
// entropy-coded data with the byte stuffing removed: buf[:n] are the
// unstuffed bytes not yet dropped, and once the segment's end is in them
// (done), zero padding follows, so that 8-byte loads stay in bounds and
// read zeros past the end whatever the data says, as libjpeg does. The
// window moves on between MCUs (more), so a decode needs windowSize bytes
// for it, not a copy of the whole scan: that was 3.3 MB per decoder for a
// 12 MP photo.
type scanBuffer struct {
	buf    []byte
	n      int
	in     *input // the file, or a window over it
	p      int    // next byte of in.data to unstuff
	done   bool   // the segment's end is in buf
	marker byte   // what ended it: 0 for the end of data
	eof    bool   // the data ended without a marker
}

// windowSize is the unstuffed data a window holds.
const windowSize = 32 << 10

// scanPad is the zero padding after a segment and the margin more keeps
// ahead of the reader: more than one MCU can read (at most 10 blocks of
// at most 64 codes of 31 bits each) plus one load.
const scanPad = 10*64*4 + 16

var scanPool = sync.Pool{New: func() any {
	return &scanBuffer{buf: make([]byte, windowSize+scanPad)}
}}

// start begins a scan whose data starts at in.data[p] and fills the
// window with its first segment.
func (s *scanBuffer) start(in *input, p int) {
	s.in, s.p = in, p
	s.nextSegment()
}

// nextSegment empties the window and fills it from the data after the
// marker that ended the previous segment.
func (s *scanBuffer) nextSegment() {
	s.n, s.done, s.marker, s.eof = 0, false, 0, false
	s.fill()
}

// fill unstuffs data into the window until it is full or the segment ends.
func (s *scanBuffer) fill() {
	data, p := s.in.data, s.p
	for s.n < windowSize {
		if p == len(data) {
			var ok bool
			if p, ok = s.in.more(p); !ok {
				s.end(p, 0, true)
				return
			}
			data = s.in.data
		}
		room := windowSize - s.n
		i := bytes.IndexByte(data[p:min(p+room, len(data))], 0xFF)
		if i < 0 {
			k := copy(s.buf[s.n:windowSize], data[p:])
			s.n += k
			p += k
			continue
		}
		s.n += copy(s.buf[s.n:], data[p:p+i])
		p += i
		j := p + 1
		for {
			for j < len(data) && data[j] == 0xFF {
				j++ // fill bytes
			}
			if j < len(data) {
				break
			}
			// Keep the last 0xFF: the marker starts there as well as at p.
			np, ok := s.in.more(j - 1)
			data, p, j = s.in.data, np, np+1
			if !ok {
				break
			}
		}
		switch {
		case j >= len(data):
			s.end(len(data), 0, true)
			return
		case data[j] == 0:
			s.buf[s.n] = 0xFF
			s.n++
			p = j + 1
		case data[j] >= mRST0 && data[j] <= mRST7:
			s.end(j+1, data[j], false)
			return
		default:
			// Any other marker ends the scan; p stays on it.
			s.end(p, data[j], false)
			return
		}
	}
	s.p = p
}

// end records the end of the segment and pads the window with zeros.
func (s *scanBuffer) end(p int, marker byte, eof bool) {
	s.p, s.done, s.marker, s.eof = p, true, marker, eof
	clear(s.buf[s.n : s.n+scanPad])
}

// restart reports whether the segment ended with a restart marker.
func (s *scanBuffer) restart() bool { return s.marker >= mRST0 && s.marker <= mRST7 }

// more moves the window on so that at least scanPad bytes are ahead of
// the reader, unless the segment's end is already in it.
func (s *scanBuffer) more(r *bitReader) {
	if s.done || s.n-r.pos >= scanPad {
		return
	}
	s.n = copy(s.buf, s.buf[r.pos:s.n])
	r.pos = 0
	s.fill()
	r.setLimit(s)
}

// skipSegment drops what is left of the segment, up to the marker that
// ends it.
func (s *scanBuffer) skipSegment() {
	for !s.done {
		s.n = 0
		s.fill()
	}
}

// finish skips the rest of the scan (segments no reader asked for) and
// returns the position of the marker that ends it (len(data) at the end).
func (s *scanBuffer) finish() int {
	s.skipSegment()
	for s.restart() {
		s.nextSegment()
		s.skipSegment()
	}
	return s.p
}
