package jpeg

// multiBits is how many bits one lookup of a multi table spans.
const multiBits = 12

// Multi entries: bits 0-4 the bits the group takes (codes and extra bits,
// the last symbol's extra bits may reach past the window), bits 5-11 adv,
// bit 12 set when the group ends with an end of block. adv is the
// coefficients the group's symbols advance over (run + 1 each, 1 for the
// end of block), so a group read at coefficient k fits in the block when
// k + adv <= 64; the end of block then adds 128 to the advance, which
// ends the block.
const (
	multiLenMask = 31
	multiAdvMask = 127
	multiEOB     = 1 << 12
)

// needMulti builds t.multi unless it is built: 23 us for a typical AC
// table, which decodes that never skip codes should not pay.
func (t *huffTable) needMulti() {
	if !t.multiBuilt {
		t.buildMulti()
		t.multiBuilt = true
	}
}

// buildMulti fills t.multi from the table's codes: for every window of
// multiBits bits, the symbols that start inside it and whose codes end
// inside it, read one after another with their extra bits, up to and
// including an end of block.
func (t *huffTable) buildMulti() {
	for p := range 1 << multiBits {
		win := uint64(p) << (64 - multiBits)
		used, adv, eob := uint(0), 0, false
		for used < multiBits {
			sym, l := t.symbolAt(win << used)
			if l == 0 || l > multiBits-used {
				break
			}
			run, size := int(sym>>4), uint(sym&15)
			if size == 0 && run != 15 {
				if adv+1 > 64 {
					break
				}
				used += l
				adv++
				eob = true
				break
			}
			if adv+run+1 > 64 {
				break // past any block: the group could never be taken
			}
			used += l + size
			adv += run + 1
		}
		if used == 0 {
			t.multi[p] = 0
			continue
		}
		e := uint16(used) | uint16(adv)<<5
		if eob {
			e |= multiEOB
		}
		t.multi[p] = e
	}
}

// symbolAt decodes the code at the top of the left-aligned bits.
func (t *huffTable) symbolAt(bits uint64) (uint8, uint) {
	if e := t.lut[bits>>(64-lookBits)]; e != 0 {
		return uint8(e), uint(e >> 8)
	}
	return t.slow(bits)
}

// decodeBlockDC reads one sequential block of which only the DC
// coefficient is needed (the 1/8 scale): the DC difference is added to
// *pred and the AC codes are read past, without their values, a group of
// codes per multi lookup while the group stays inside the block, one code
// through the skip entries otherwise. It consumes exactly the bits
// decodeBlock does, so what follows decodes the same.
func decodeBlockDC(r *bitReader, dc, ac *huffTable, pred *int32) error {
	// blockDC, inlined by hand: a 12 MP photo has 190 000 of these blocks.
	bits, n, pos, buf := r.bits, r.n, r.pos, r.buf
	if n < 32 {
		bits |= be64(buf[pos:pos+8]) >> n
		pos += int(63-n) >> 3
		n |= 56
	}
	if e := dc.fast[bits>>(64-lookBits)]; e != 0 {
		*pred += e >> 16
		l := uint(e & 15)
		bits <<= l
		n -= l
	} else {
		diff, l, err := dc.dcSlow(bits)
		if err != nil {
			return err
		}
		*pred += diff
		bits <<= l
		n -= l
	}
	for k := 1; k < 64; {
		if n < 32 {
			bits |= be64(buf[pos:pos+8]) >> n
			pos += int(63-n) >> 3
			n |= 56
		}
		e := ac.multi[bits>>(64-multiBits)]
		if a := int(e>>5) & multiAdvMask; a != 0 && k+a <= 64 {
			l := uint(e & multiLenMask)
			bits <<= l
			n -= l
			k += int(e >> 5) // the end of block's bit adds 128
			continue
		}
		// A run past the last coefficient (an end of block among them)
		// takes the code but not its extra bits, as decodeBlock does.
		if e := ac.skip[bits>>(64-lookBits)]; e != 0 {
			k += int(e >> 9)
			if k > 63 {
				l := uint(e>>5) & 15
				bits <<= l
				n -= l
				break
			}
			l := uint(e & 31)
			bits <<= l
			n -= l
			k++
			continue
		}
		sym, l := ac.slow(bits)
		if l == 0 {
			return FormatError("bad Huffman code")
		}
		bits <<= l
		n -= l
		run, size := int(sym>>4), uint(sym&15)
		if size == 0 && run != 15 {
			break
		}
		k += run
		if k > 63 {
			break
		}
		bits <<= size
		n -= size
		k++
	}
	r.bits, r.n, r.pos = bits, n, pos
	return nil
}
