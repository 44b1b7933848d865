package jpeg

import (
	"fmt"
	"math"
)

// scanComp is one component of a scan.
type scanComp struct {
	c      *component
	dc, ac *huffTable
	pred   int32
}

// scan is a parsed SOS header (T.81 B.2.3).
type scan struct {
	comps          []scanComp
	ss, se, ah, al int
}

// setup computes the geometry once the frame and the scale are known:
// per component, the transform size, the block grids and the planes.
func (d *decoder) setup() error {
	ss0 := 8 / d.scale
	d.mcusX = (d.width + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (d.height + 8*d.vmax - 1) / (8 * d.vmax)
	for i := range d.ncomp {
		c := &d.comp[i]
		// libjpeg-turbo's rule (jdmaster.c): grow a subsampled
		// component's transform while that removes a 2x upsampling step
		// in both directions.
		s := ss0
		for s < 8 && (d.hmax*ss0)%(c.h*s*2) == 0 && (d.vmax*ss0)%(c.v*s*2) == 0 {
			s *= 2
		}
		c.ss = s
		c.bw, c.bh = d.mcusX*c.h, d.mcusY*c.v
		cw := (d.width*c.h + d.hmax - 1) / d.hmax
		ch := (d.height*c.v + d.vmax - 1) / d.vmax
		c.sbw, c.sbh = (cw+7)/8, (ch+7)/8
		if d.ncomp == 1 {
			c.bw, c.bh = c.sbw, c.sbh
		}
		// Coefficients the transform reads: in the block buffer at their
		// natural index, in progressive storage packed nf x nf.
		slot, nf := [8]int{}, 0
		for u := range 8 {
			slot[u] = -1
			if keeps(s, u) {
				slot[u] = nf
				nf++
			}
		}
		c.nkeep = nf * nf
		c.natural = make([]uint8, c.nkeep)
		for k := range 64 {
			z := int(zigzag[k])
			c.keep[k], c.keepN[k] = 64, 255
			if slot[z/8] >= 0 && slot[z%8] >= 0 {
				c.keep[k], c.keepN[k] = uint8(z), uint8(slot[z/8]*nf+slot[z%8])
				c.keepMask |= 1 << k
				c.natural[c.keepN[k]] = uint8(z)
			}
		}
		c.plane = make([]byte, c.bw*s*c.bh*s)
		if d.progressive {
			c.coef = make([]int16, c.bw*c.bh*c.nkeep)
			c.mask = make([]uint64, c.bw*c.bh)
		}
	}
	return nil
}

// readSOS parses a scan header and decodes the scan that follows it.
func (d *decoder) readSOS(seg []byte) error {
	if !d.frame {
		return FormatError("SOS before SOF")
	}
	if d.scans == 0 {
		if err := d.setup(); err != nil {
			return err
		}
	}
	if len(seg) < 1 {
		return FormatError("short SOS")
	}
	n := int(seg[0])
	if n < 1 || n > d.ncomp || len(seg) != 4+2*n {
		return FormatError("SOS length")
	}
	var sc scan
	var comps [4]scanComp
	blocks := 0
	for i := range n {
		id, tabs := seg[1+2*i], seg[2+2*i]
		ci := -1
		for j := range d.ncomp {
			if d.comp[j].id == id {
				ci = j
			}
		}
		if ci < 0 {
			return FormatError("unknown component in SOS")
		}
		for j := range i {
			if comps[j].c == &d.comp[ci] {
				return FormatError("repeated component in SOS")
			}
		}
		td, ta := tabs>>4, tabs&15
		if td > 3 || ta > 3 {
			return FormatError("bad Huffman table id")
		}
		comps[i] = scanComp{c: &d.comp[ci], dc: &d.tables().dc[td], ac: &d.tables().ac[ta]}
		blocks += d.comp[ci].h * d.comp[ci].v
	}
	sc.comps = comps[:n]
	if n > 1 && blocks > 10 {
		return FormatError("more than 10 blocks in an MCU")
	}
	p := seg[1+2*n:]
	sc.ss, sc.se, sc.ah, sc.al = int(p[0]), int(p[1]), int(p[2]>>4), int(p[2]&15)
	if d.progressive {
		if err := checkProgressive(&sc); err != nil {
			return err
		}
	} else if n != d.ncomp {
		return UnsupportedError("baseline image in more than one scan")
	}
	for i := range sc.comps {
		c := &sc.comps[i]
		needDC := !d.progressive || (sc.ss == 0 && sc.ah == 0)
		needAC := !d.progressive || sc.ss > 0
		if (needDC && !c.dc.defined) || (needAC && !c.ac.defined) {
			return FormatError("scan uses an undefined Huffman table")
		}
		if !d.progressive && c.c.ss == 1 {
			c.ac.needMulti() // decodeBlockDC's
		}
	}
	d.scans++
	if d.unstuffed == nil {
		d.unstuffed = scanPool.Get().(*scanBuffer)
	}
	d.unstuffed.start(&d.in, d.pos)
	if err := d.decodeScan(&sc); err != nil {
		return err
	}
	d.pos = d.unstuffed.finish()
	return nil
}

func checkProgressive(sc *scan) error {
	switch {
	case sc.ss == 0 && sc.se != 0:
		return FormatError("progressive DC scan with AC coefficients")
	case sc.ss > sc.se || sc.se > 63:
		return FormatError("bad spectral selection")
	case sc.ss > 0 && len(sc.comps) != 1:
		return FormatError("progressive AC scan of more than one component")
	}
	// libjpeg rejects Al > 13 as a bad progression; image/jpeg takes any
	// 4-bit value, and so does this package, so that whatever image/jpeg
	// decodes it decodes too (FuzzDecode). Shifts that large only wrap
	// the 16-bit coefficients; nothing reads out of bounds.
	return nil
}

// release returns pooled buffers.
func (d *decoder) release() {
	if t := d.tab; t != nil {
		d.tab = nil
		tablePool.Put(t)
	}
	if b := d.in.pool; b != nil {
		d.in = input{}
		windowPool.Put(b)
	}
	if s := d.unstuffed; s != nil {
		d.unstuffed = nil
		s.in = nil
		scanPool.Put(s)
	}
}

// blockFunc decodes the block at (bx, by) of the scan's component ci.
type blockFunc func(r *bitReader, c *scanComp, bx, by int) error

// decodeScan runs the scan's blocks in order, with restart intervals.
func (d *decoder) decodeScan(sc *scan) error {
	var fn blockFunc // nil: baselineBlock, called directly
	switch {
	case !d.progressive:
	case sc.ss == 0 && sc.ah == 0:
		fn = d.dcFirst(sc.al)
	case sc.ss == 0:
		fn = d.dcRefine(sc.al)
	case sc.ah == 0:
		fn = d.acFirst(sc.ss, sc.se, sc.al)
	default:
		fn = d.acRefine(sc.ss, sc.se, sc.al)
	}
	sb := d.unstuffed
	r := &bitReader{buf: sb.buf}
	r.setLimit(sb)
	d.eobrun = 0
	units, perRow := d.mcusX*d.mcusY, d.mcusX
	single := len(sc.comps) == 1
	if single {
		c := sc.comps[0].c
		units, perRow = c.sbw*c.sbh, c.sbw
	}
	left := d.restart // units before the next restart marker
	for u, ux, uy := 0, 0, 0; u < units; u++ {
		if d.restart > 0 {
			if left == 0 {
				if err := d.nextSegment(r, sb, sc); err != nil {
					return err
				}
				left = d.restart
			}
			left--
		}
		sb.more(r)
		if err := d.unit(fn, r, sc, single, ux, uy); err != nil {
			return err
		}
		if r.consumed() > r.lim {
			return overrun(sb, r)
		}
		if ux++; ux == perRow {
			ux, uy = 0, uy+1
		}
	}
	return nil
}

// unit decodes the blocks of one MCU (of one block when single) with fn,
// or with baselineBlock, called directly, for a nil fn: the sequential
// scans of large photos are millions of blocks.
func (d *decoder) unit(fn blockFunc, r *bitReader, sc *scan, single bool, ux, uy int) error {
	if single {
		if fn == nil {
			return d.baselineBlock(r, &sc.comps[0], ux, uy)
		}
		return fn(r, &sc.comps[0], ux, uy)
	}
	for i := range sc.comps {
		c := &sc.comps[i]
		if fn == nil && c.c.ss == 1 {
			if err := d.dcBlocks(r, c, ux*c.c.h, uy*c.c.v); err != nil {
				return err
			}
			continue
		}
		for y := range c.c.v {
			for x := range c.c.h {
				bx, by := ux*c.c.h+x, uy*c.c.v+y
				var err error
				if fn == nil {
					err = d.baselineBlock(r, c, bx, by)
				} else {
					err = fn(r, c, bx, by)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func overrun(sb *scanBuffer, r *bitReader) error {
	if sb.eof {
		return errTruncated("entropy-coded data")
	}
	return FormatError(fmt.Sprintf("entropy-coded segment %d is short", r.seg))
}

// setLimit sets the reader's bound: the end of the segment once the
// window holds it, none before.
func (r *bitReader) setLimit(sb *scanBuffer) {
	r.lim = math.MaxInt
	if sb.done {
		r.lim = sb.n * 8
	}
}

// nextSegment moves to the data after the next restart marker and resets
// the predictors (T.81 F.2.1.3.1, G.1.2.2).
func (d *decoder) nextSegment(r *bitReader, sb *scanBuffer, sc *scan) error {
	sb.skipSegment()
	if !sb.restart() {
		if sb.eof {
			return errTruncated("missing restart marker")
		}
		return FormatError("missing restart marker")
	}
	sb.nextSegment()
	r.seg++
	r.pos, r.bits, r.n = 0, 0, 0
	r.setLimit(sb)
	for i := range sc.comps {
		sc.comps[i].pred = 0
	}
	d.eobrun = 0
	return nil
}
