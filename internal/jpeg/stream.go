package jpeg

import (
	"image"
	"io"
)

// Stream decodes a JPEG as it reads it from an io.Reader, through a window
// of inputWindow bytes of compressed data and the scans' unstuffing
// window: a 12 MP photo is never held whole. NewStream reads the headers
// up to the first scan, so that a caller can weigh the image and read its
// APP segments before Decode reads the rest. A failing reader makes a *ReadError, not a
// FormatError or a truncation.
type Stream struct {
	d      decoder
	header int // bytes of headers, up to the first scan
	used   bool
}

// NewStream reads r's headers up to the first scan (the frame header and
// every segment before the first SOS marker, tables included), and
// checks the frame against maxPixels as Decode does (0: no limit). Its
// errors are Decode's (a *ReadError when r fails). The caller must Close
// the Stream.
func NewStream(r io.Reader, maxPixels int) (*Stream, error) {
	s := &Stream{}
	s.d.maxPixels = maxPixels
	b := windowPool.Get().(*[]byte)
	s.d.in = input{data: (*b)[:0], r: r, keep: true, pool: b}
	err := s.d.readSOI()
	if err == nil {
		err = s.d.walk(beforeScan, false)
	}
	if err != nil {
		err = s.d.readErr(err)
		s.Close()
		return nil, err
	}
	s.header = s.d.pos
	return s, nil
}

// Config is what the frame header says.
func (s *Stream) Config() Config {
	d := &s.d
	return Config{Width: d.width, Height: d.height, Components: d.ncomp, Progressive: d.progressive}
}

// Header is the data from SOI to the first scan's marker, valid until
// Decode or Close: enough for DecodeConfig and for every APP segment
// (EXIF) a whole-file reader finds, which stops at the first scan too.
func (s *Stream) Header() []byte { return s.d.in.data[:s.header] }

// Decode reads and decodes the rest of the image at the given scale.
func (s *Stream) Decode(opts Options) (image.Image, error) {
	if s.used {
		return nil, errStreamUsed
	}
	s.used = true
	d := &s.d
	scale, err := checkScale(opts.Scale)
	if err != nil {
		return nil, err
	}
	d.scale, d.maxPixels = scale, opts.MaxPixels
	if err := d.checkPixels(); err != nil {
		return nil, err
	}
	d.in.keep = false
	if err := d.walk(toEnd, false); err != nil {
		return nil, d.readErr(err)
	}
	img, err := d.output()
	if err != nil {
		return nil, d.readErr(err)
	}
	return img, nil
}

// Close returns the Stream's buffers. It does not close the reader.
func (s *Stream) Close() {
	s.used = true
	s.d.release()
}

var errStreamUsed = FormatError("stream already decoded")
