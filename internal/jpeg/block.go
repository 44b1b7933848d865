package jpeg

// The entropy decoding of one block: the sequential scans' block decoders
// and the DC difference they share with decodeBlockDC (skipblock.go).

// dcBlocks decodes the blocks of one MCU of a sequential component whose
// transform is 1x1 (the 1/8 scale): each block's mean alone, its AC
// coefficients read past (decodeBlockDC).
func (d *decoder) dcBlocks(r *bitReader, sc *scanComp, bx, by int) error {
	c := sc.c
	q := d.quant[c.tq][0]
	for y := range c.v {
		row := c.plane[(by+y)*c.bw+bx:]
		for x := range c.h {
			if err := decodeBlockDC(r, sc.dc, sc.ac, &sc.pred); err != nil {
				return err
			}
			row[x] = dcOnly(sc.pred, q)
		}
	}
	return nil
}

// baselineBlock decodes one sequential block and writes its pixels. The
// block buffer is all zeros between blocks (idct clears what it reads).
func (d *decoder) baselineBlock(r *bitReader, sc *scanComp, bx, by int) error {
	c := sc.c
	blk := &d.blk
	s := c.ss
	if s == 1 {
		// 1/8: the block mean alone (idct's n = 1 case); the AC
		// coefficients are read past, never computed.
		if err := decodeBlockDC(r, sc.dc, sc.ac, &sc.pred); err != nil {
			return err
		}
		c.plane[by*c.bw+bx] = dcOnly(sc.pred, d.quant[c.tq][0])
		return nil
	}
	if err := decodeBlock(r, blk, &c.keep, sc.dc, sc.ac, &sc.pred); err != nil {
		return err
	}
	stride := c.bw * s
	idct(blk, &d.quant[c.tq], s, c.plane[by*s*stride+bx*s:], stride)
	return nil
}

// decodeBlock reads one sequential block (T.81 F.2.2): the DC difference,
// added to *pred, and the AC coefficients, stored through keep. The bit
// reader's state lives in locals for the whole block.
func decodeBlock(r *bitReader, blk *[256]int32, keep *[64]uint8, dc, ac *huffTable, pred *int32) error {
	bits, n, pos, err := blockDC(r, dc, pred)
	if err != nil {
		return err
	}
	buf := r.buf
	blk[0] = *pred
	// AC.
	for k := 1; k < 64; {
		if n < 32 {
			bits |= be64(buf[pos:pos+8]) >> n
			pos += int(63-n) >> 3
			n |= 56
		}
		e := ac.fast[bits>>(64-lookBits)]
		if e != 0 {
			// An end of block has run 64, so one test ends the block for
			// it and for a run past the last coefficient (which, like
			// image/jpeg, takes the code but not its extra bits).
			k += int(e>>8) & 127
			if k > 63 {
				l := uint(e>>4) & 15
				bits <<= l
				n -= l
				break
			}
			l := uint(e & 15)
			bits <<= l
			n -= l
			blk[keep[k&63]] = e >> 16
			k++
			continue
		}
		sym, l := ac.slowOrLUT(bits)
		if l == 0 {
			return FormatError("bad Huffman code")
		}
		bits <<= l
		n -= l
		run, size := int(sym>>4), uint(sym&15)
		if size == 0 {
			if run != 15 {
				break
			}
			k += 16
			continue
		}
		k += run
		if k > 63 {
			break
		}
		blk[keep[k&63]] = extend(int32(bits>>(64-size)), size)
		bits <<= size
		n -= size
		k++
	}
	r.bits, r.n, r.pos = bits, n, pos
	return nil
}

// blockDC starts a sequential block: it decodes the DC difference (T.81
// F.2.2.1) and adds it to *pred, and returns the bit reader's state after
// it for the block's AC codes.
func blockDC(r *bitReader, dc *huffTable, pred *int32) (bits uint64, n uint, pos int, err error) {
	bits, n, pos = r.bits, r.n, r.pos
	if n < 32 {
		bits |= be64(r.buf[pos:pos+8]) >> n
		pos += int(63-n) >> 3
		n |= 56
	}
	diff, l := int32(0), uint(0)
	if e := dc.fast[bits>>(64-lookBits)]; e != 0 {
		diff, l = e>>16, uint(e&15)
	} else if diff, l, err = dc.dcSlow(bits); err != nil {
		return 0, 0, 0, err
	}
	*pred += diff
	return bits << l, n - l, pos, nil
}

// dcSlow decodes a DC difference from the left-aligned bits, at least 32
// valid, for a code and extra bits that fast does not resolve.
func (t *huffTable) dcSlow(bits uint64) (int32, uint, error) {
	sym, l := t.slowOrLUT(bits)
	if l == 0 {
		return 0, 0, FormatError("bad Huffman code")
	}
	if sym > 16 {
		return 0, 0, UnsupportedError("excessive DC component")
	}
	s := uint(sym)
	return extend(int32(bits<<l>>(64-s)), s), l + s, nil
}

// slowOrLUT decodes a symbol that the fused table did not resolve.
func (t *huffTable) slowOrLUT(bits uint64) (uint8, uint) {
	if e := t.lut[bits>>(64-lookBits)]; e != 0 {
		return uint8(e), uint(e >> 8)
	}
	return t.slow(bits)
}
