package jpeg

import (
	"encoding/binary"
	"fmt"
)

// Marker codes (T.81 table B.1).
const (
	mSOF0 = 0xC0 // baseline
	mSOF1 = 0xC1 // extended sequential, Huffman
	mSOF2 = 0xC2 // progressive, Huffman
	mDHT  = 0xC4
	mRST0 = 0xD0
	mRST7 = 0xD7
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOS  = 0xDA
	mDQT  = 0xDB
	mDRI  = 0xDD
	mAPP0 = 0xE0
	mAPPE = 0xEE
)

// component is one colour component of the frame.
type component struct {
	id     byte
	h, v   int // sampling factors
	tq     int // quantization table
	ss     int // output pixels per block side: 8, 4, 2 or 1
	bw, bh int // blocks across and down, padded to whole MCUs
	// Blocks a non-interleaved scan of this component covers.
	sbw, sbh int
	keep     [64]uint8 // zigzag index -> slot in a block buffer (64: dropped)
	keepN    [64]uint8 // zigzag index -> slot among nkeep coefficients (255: dropped)
	nkeep    int       // coefficients kept per block
	keepMask uint64    // zigzag positions kept
	natural  []uint8   // slot -> natural index
	plane    []byte    // output samples, stride bw*ss
	coef     []int16   // progressive: nkeep coefficients per block
	mask     []uint64  // progressive: which zigzag coefficients are non-zero
}

// decoder holds the state of one Decode call.
type decoder struct {
	in        input
	pos       int
	scale     int
	maxPixels int

	width, height int
	ncomp         int
	comp          [4]component
	hmax, vmax    int
	mcusX, mcusY  int
	frame         bool
	progressive   bool
	scans         int

	quant   [4][64]int32 // natural order
	tab     *tables      // Huffman tables, pooled (newTables)
	restart int

	jfif         bool
	adobe        bool
	adobeXform   byte
	coefAlloced  bool
	unstuffed    *scanBuffer
	blk          [256]int32 // one block; slot 64 (and any index a uint8 names) is a sink for dropped coefficients
	eobrun       int
	scratchPlane []byte
}

func (d *decoder) u16(i int) int { return int(binary.BigEndian.Uint16(d.in.data[i:])) }

// readHeaders walks the markers. With configOnly it stops after the frame
// header; otherwise it decodes every scan until EOI or the end of data.
func (d *decoder) readHeaders(configOnly bool) error {
	if err := d.readSOI(); err != nil {
		return err
	}
	stop := toEnd
	if configOnly {
		stop = afterFrame
	}
	return d.walk(stop, configOnly)
}

// stopAt is where a walk stops.
type stopAt int

const (
	toEnd      stopAt = iota // decode every scan, until EOI
	afterFrame               // stop after the frame header
	beforeScan               // stop before the first SOS marker, after a frame header
)

// readSOI checks the SOI marker the data starts with.
func (d *decoder) readSOI() error {
	d.pos = 0
	if !d.avail(2) || d.in.data[0] != 0xFF || d.in.data[1] != mSOI {
		if len(d.in.data) < 2 {
			return errTruncated("missing SOI marker")
		}
		return FormatError("missing SOI marker")
	}
	d.pos = 2
	return nil
}

// walk reads markers from d.pos until stop, and with skipTables it does not
// parse the tables before it. Stopped before a scan, d.pos is at the scan's
// marker, so that the next walk starts with it.
func (d *decoder) walk(stop stopAt, skipTables bool) error {
	for {
		// Find the next marker. Bytes other than 0xFF between segments are
		// skipped, as libjpeg does (a warning there), and 0xFF fill bytes.
		for d.avail(1) && d.in.data[d.pos] != 0xFF {
			d.pos++
		}
		mark := d.pos
		for d.avail(1) && d.in.data[d.pos] == 0xFF {
			d.pos++
		}
		if !d.avail(1) {
			// Even when every scan is complete, data without EOI is
			// truncated, as image/jpeg says.
			return errTruncated("no EOI marker")
		}
		m := d.in.data[d.pos]
		if m == mSOS && stop == beforeScan && d.frame {
			d.pos = mark
			return nil
		}
		d.pos++
		switch {
		case m == mEOI:
			if stop != toEnd || d.scans == 0 {
				return FormatError("missing SOS marker")
			}
			return nil
		case m == mSOI, m == 0x01, m >= mRST0 && m <= mRST7:
			continue // no length; stray restart markers are ignored
		case m == 0x00:
			continue
		}
		if !d.avail(2) {
			return errTruncated("segment length")
		}
		n := d.u16(d.pos)
		if n < 2 {
			return FormatError("segment length below 2")
		}
		if !d.avail(n) {
			return errTruncated(fmt.Sprintf("segment 0x%02X", m))
		}
		seg := d.in.data[d.pos+2 : d.pos+n]
		d.pos += n
		var err error
		switch {
		case m == mSOF0 || m == mSOF1 || m == mSOF2:
			err = d.readSOF(seg, m == mSOF2)
			if err == nil && stop == afterFrame {
				return nil
			}
		case m >= 0xC3 && m <= 0xCF && m != mDHT && m != 0xC8 && m != 0xCC:
			return UnsupportedError(fmt.Sprintf("SOF marker 0x%02X (only Huffman baseline and progressive)", m))
		case skipTables:
			// Tables come later.
		case m == mDHT:
			err = d.readDHT(seg)
		case m == mDQT:
			err = d.readDQT(seg)
		case m == mDRI:
			if len(seg) != 2 {
				return FormatError("DRI length")
			}
			d.restart = int(binary.BigEndian.Uint16(seg))
		case m == mSOS:
			err = d.readSOS(seg)
		case m == mAPP0:
			d.jfif = d.jfif || (len(seg) >= 5 && string(seg[:5]) == "JFIF\x00")
		case m == mAPPE:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe, d.adobeXform = true, seg[11]
			}
		}
		if err != nil {
			return err
		}
	}
}

// readSOF parses a frame header (T.81 B.2.2).
func (d *decoder) readSOF(seg []byte, progressive bool) error {
	if d.frame {
		return FormatError("more than one frame")
	}
	if len(seg) < 6 {
		return FormatError("short SOF")
	}
	if seg[0] != 8 {
		return UnsupportedError(fmt.Sprintf("%d-bit samples", seg[0]))
	}
	d.height = int(binary.BigEndian.Uint16(seg[1:]))
	d.width = int(binary.BigEndian.Uint16(seg[3:]))
	d.ncomp = int(seg[5])
	if d.height == 0 {
		return UnsupportedError("image height from DNL marker")
	}
	if d.width == 0 {
		return FormatError("zero width")
	}
	if err := d.checkPixels(); err != nil {
		return err
	}
	switch d.ncomp {
	case 1, 3, 4:
	default:
		return UnsupportedError(fmt.Sprintf("%d components", d.ncomp))
	}
	if len(seg) != 6+3*d.ncomp {
		return FormatError("SOF length")
	}
	d.progressive = progressive
	d.frame = true
	d.hmax, d.vmax = 1, 1
	for i := range d.ncomp {
		c := &d.comp[i]
		p := seg[6+3*i:]
		c.id, c.h, c.v, c.tq = p[0], int(p[1]>>4), int(p[1]&15), int(p[2])
		for j := range i {
			if d.comp[j].id == c.id {
				return FormatError("repeated component id")
			}
		}
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return FormatError("bad sampling factor")
		}
		if c.tq > 3 {
			return FormatError("bad quantization table id")
		}
		if d.ncomp == 1 {
			// A single component is never interleaved: its factors only
			// set the MCU, which is then one block.
			c.h, c.v = 1, 1
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	return nil
}

// checkPixels checks the frame's size against maxPixels.
func (d *decoder) checkPixels() error {
	if d.maxPixels > 0 && int64(d.width)*int64(d.height) > int64(d.maxPixels) {
		return fmt.Errorf("%w: %dx%d is more than %d pixels", ErrTooLarge, d.width, d.height, d.maxPixels)
	}
	return nil
}

// readDQT parses quantization tables (T.81 B.2.4.1), 8- or 16-bit.
func (d *decoder) readDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, int(seg[0]&15)
		if tq > 3 || pq > 1 {
			return FormatError("bad DQT table")
		}
		size := 64 << pq
		if len(seg) < 1+size {
			return FormatError("short DQT")
		}
		for k := range 64 {
			var q int32
			if pq == 0 {
				q = int32(seg[1+k])
			} else {
				q = int32(binary.BigEndian.Uint16(seg[1+2*k:]))
			}
			d.quant[tq][zigzag[k]] = q
		}
		seg = seg[1+size:]
	}
	return nil
}

// readDHT parses Huffman tables (T.81 B.2.4.2).
func (d *decoder) readDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return FormatError("short DHT")
		}
		tc, th := seg[0]>>4, int(seg[0]&15)
		if tc > 1 || th > 3 {
			return FormatError("bad DHT table class or id")
		}
		var counts [16]uint8
		copy(counts[:], seg[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if total == 0 || total > 256 || len(seg) < 17+total {
			return FormatError("bad DHT symbol count")
		}
		t := &d.tables().ac[th]
		if tc == 0 {
			t = &d.tables().dc[th]
		}
		if err := t.build(counts, seg[17:17+total], tc == 1); err != nil {
			return err
		}
		seg = seg[17+total:]
	}
	return nil
}

// zigzag maps the zigzag index of a coefficient to its natural
// (row-major) index (T.81 figure A.6).
var zigzag = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}
