package jpeg

import "sync"

// lookBits is how many bits one table lookup resolves.
const lookBits = 11

// huffTable is a Huffman table (T.81 annex C) ready for decoding. Codes up
// to lookBits long resolve with one lookup in lut; fast also folds in the
// extra bits that follow the code when they fit in the same lookup, so most
// coefficients cost one lookup and one shift.
type huffTable struct {
	// fast entries: bits 0-3 total length (code + extra bits), 4-7 code
	// length, 8-14 run (runEOB for an end of block), 16-31 the coefficient
	// value. Zero means "not resolved here".
	fast [1 << lookBits]int32
	// lut entries: code length << 8 | symbol, zero for longer codes.
	lut [1 << lookBits]uint16
	// skip entries, for coefficients that are dropped (AC tables at 1/8):
	// bits 0-4 total length (code + extra bits), 5-8 code length, 9-15
	// run (runEOB for an end of block). Zero for longer codes. Unlike fast, every code of at
	// most lookBits bits resolves here, however many extra bits follow.
	skip [1 << lookBits]uint16
	// multi entries, for dropped coefficients too: every whole code that
	// starts in the next multiBits bits, with the extra bits of each (see
	// buildMulti). Zero when the first code is longer than multiBits.
	// Built on first use (needMulti): only 1/8 decodes read it.
	multi      [1 << multiBits]uint16
	multiBuilt bool
	// maxcode[l] is the largest code of length l (-1 if none); a code c of
	// length l has symbol vals[c+delta[l]].
	maxcode [17]int32
	delta   [17]int32
	vals    [256]uint8
	defined bool
}

// tables are a decoder's Huffman tables: 8 of 25 KB, pooled rather than
// allocated and cleared for every image.
type tables struct{ dc, ac [4]huffTable }

var tablePool = sync.Pool{New: func() any { return new(tables) }}

// tables returns the decoder's tables, taken from the pool with every
// table undefined on first use (a DHT segment builds each anew).
func (d *decoder) tables() *tables {
	if d.tab == nil {
		d.tab = tablePool.Get().(*tables)
		for i := range 4 {
			d.tab.dc[i].defined, d.tab.ac[i].defined = false, false
		}
	}
	return d.tab
}

// runEOB is the run of an end of block in fast entries: past any block.
const runEOB = 64

// build makes the decoding tables from a DHT's counts and symbols. ac says
// how the fused entries read a symbol: run/size for AC tables, size for DC.
func (t *huffTable) build(counts [16]uint8, syms []uint8, ac bool) error {
	*t = huffTable{defined: true}
	copy(t.vals[:], syms)
	code, k := int32(0), 0
	for l := 1; l <= 16; l++ {
		n := int(counts[l-1])
		if n == 0 {
			t.maxcode[l] = -1
			code <<= 1
			continue
		}
		t.delta[l] = int32(k) - code
		for range n {
			// An over-subscribed table (more codes than l bits hold):
			// libjpeg rejects it, image/jpeg decodes with what fits, and
			// so does this package (FuzzDecode); the rest never match.
			if l <= lookBits && code < 1<<l {
				t.fill(code, l, syms[k], ac)
			}
			code++
			k++
		}
		t.maxcode[l] = min(code-1, 1<<l-1)
		code <<= 1
	}
	return nil
}

// fill sets the lookup entries of one code of length l.
func (t *huffTable) fill(code int32, l int, sym uint8, ac bool) {
	shift := lookBits - l
	base := int(code) << shift
	size, run := int(sym), 0
	if ac {
		size, run = int(sym&15), int(sym>>4)
		if size == 0 && run != 15 {
			run = runEOB
		}
	}
	total := l + size
	for i := range 1 << shift {
		p := base + i
		t.lut[p] = uint16(l<<8) | uint16(sym)
		if ac {
			t.skip[p] = uint16(run<<9 | l<<5 | total)
		}
		if size > 16 || total > lookBits {
			continue
		}
		extra := int32(p>>(lookBits-total)) & (1<<size - 1)
		v := extend(extra, uint(size))
		t.fast[p] = v<<16 | int32(run)<<8 | int32(l)<<4 | int32(total)
	}
}

// extend turns the size-bit value v into a signed coefficient (T.81 F.2.2.1).
func extend(v int32, size uint) int32 {
	if size == 0 {
		return 0
	}
	if v < 1<<(size-1) {
		v += -1<<size + 1
	}
	return v
}

// slow decodes a code longer than lookBits from the left-aligned bits. It
// returns the symbol and the code length, or length 0 for a bad code.
func (t *huffTable) slow(bits uint64) (uint8, uint) {
	for l := lookBits + 1; l <= 16; l++ {
		c := int32(bits >> (64 - l))
		if c <= t.maxcode[l] {
			return t.vals[(c+t.delta[l])&255], uint(l)
		}
	}
	return 0, 0
}

// bitReader reads bits MSB first from a scanBuffer window. bits holds n
// valid bits, left-aligned; pos is the next byte to load.
type bitReader struct {
	buf  []byte
	pos  int
	bits uint64
	n    uint
	seg  int // current segment
	lim  int // end of the current segment, in bits
}

// consumed is how many bits of buf have been used.
func (r *bitReader) consumed() int { return r.pos*8 - int(r.n) }

// refill makes at least 56 bits valid; buf must hold 8 bytes at pos.
func (r *bitReader) refill() {
	r.bits |= be64(r.buf[r.pos:]) >> r.n
	r.pos += int(63-r.n) >> 3
	r.n |= 56
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// symbol decodes one Huffman symbol.
func (r *bitReader) symbol(t *huffTable) (uint8, error) {
	if r.n < 32 {
		r.refill()
	}
	e := t.lut[r.bits>>(64-lookBits)]
	if e != 0 {
		l := uint(e >> 8)
		r.bits <<= l
		r.n -= l
		return uint8(e), nil
	}
	s, l := t.slow(r.bits)
	if l == 0 {
		return 0, FormatError("bad Huffman code")
	}
	r.bits <<= l
	r.n -= l
	return s, nil
}

// receive reads size (at most 16) bits as an unsigned value.
func (r *bitReader) receive(size uint) int32 {
	if size == 0 {
		return 0
	}
	if r.n < 32 {
		r.refill()
	}
	v := int32(r.bits >> (64 - size))
	r.bits <<= size
	r.n -= size
	return v
}

// skip drops n bits.
func (r *bitReader) skip(n uint) {
	for n > 0 {
		if r.n < 32 {
			r.refill()
		}
		m := min(n, 32)
		r.bits <<= m
		r.n -= m
		n -= m
	}
}

// bit reads one bit.
func (r *bitReader) bit() bool {
	if r.n == 0 {
		r.refill()
	}
	b := r.bits>>63 != 0
	r.bits <<= 1
	r.n--
	return b
}
