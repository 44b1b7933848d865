package jpeg

import mbits "math/bits"

// Progressive scans (T.81 annex G.1.2) accumulate coefficients in each
// component's coef array, ss*ss per block: only those the reduced
// transform reads are kept. mask keeps, per block, which of all 64
// coefficients are non-zero, which the AC refinement scans need to know
// whether a correction bit follows.

// blockCoefs returns the kept coefficients and the mask word of a block.
func (c *component) blockCoefs(bx, by int) ([]int16, *uint64) {
	i := by*c.bw + bx
	n := c.nkeep
	return c.coef[i*n : (i+1)*n], &c.mask[i]
}

func (d *decoder) dcFirst(al int) blockFunc {
	return func(r *bitReader, sc *scanComp, bx, by int) error {
		s, err := r.symbol(sc.dc)
		if err != nil {
			return err
		}
		if s > 16 {
			return UnsupportedError("excessive DC component")
		}
		sc.pred += extend(r.receive(uint(s)), uint(s))
		coef, mask := sc.c.blockCoefs(bx, by)
		coef[0] = int16(sc.pred << al)
		if coef[0] != 0 {
			*mask |= 1
		}
		return nil
	}
}

func (d *decoder) dcRefine(al int) blockFunc {
	return func(r *bitReader, sc *scanComp, bx, by int) error {
		if r.bit() {
			coef, mask := sc.c.blockCoefs(bx, by)
			coef[0] |= 1 << al
			*mask |= 1
		}
		return nil
	}
}

func (d *decoder) acFirst(ss, se, al int) blockFunc {
	return func(r *bitReader, sc *scanComp, bx, by int) error {
		if d.eobrun > 0 {
			d.eobrun--
			return nil
		}
		c := sc.c
		coef, mask := c.blockCoefs(bx, by)
		for k := ss; k <= se; {
			sym, err := r.symbol(sc.ac)
			if err != nil {
				return err
			}
			run, size := int(sym>>4), uint(sym&15)
			if size == 0 {
				if run < 15 {
					d.eobrun = 1<<run - 1
					if run > 0 {
						d.eobrun += int(r.receive(uint(run)))
					}
					break
				}
				k += 16
				continue
			}
			k += run
			if k > se {
				break
			}
			v := extend(r.receive(size), size) << al
			if slot := c.keepN[k]; slot != 255 {
				coef[slot] = int16(v)
			}
			*mask |= 1 << k
			k++
		}
		return nil
	}
}

func (d *decoder) acRefine(ss, se, al int) blockFunc {
	p1, m1 := int16(1)<<al, int16(-1)<<al
	band := uint64(1)<<(se+1) - uint64(1)<<ss // zigzag positions ss..se
	return func(r *bitReader, sc *scanComp, bx, by int) error {
		c := sc.c
		coef, maskp := c.blockCoefs(bx, by)
		mask := *maskp
		tab := sc.ac
		// The bit reader lives in locals for the block, as in decodeBlock.
		bits, n, pos, buf := r.bits, r.n, r.pos, r.buf
		k := ss
		if d.eobrun == 0 {
			for k <= se {
				if n < 32 {
					bits |= be64(buf[pos:]) >> n
					pos += int(63-n) >> 3
					n |= 56
				}
				var sym uint8
				if e := tab.lut[bits>>(64-lookBits)]; e != 0 {
					sym = uint8(e)
					bits <<= e >> 8
					n -= uint(e >> 8)
				} else {
					s, l := tab.slow(bits)
					if l == 0 {
						return FormatError("bad Huffman code")
					}
					sym = s
					bits <<= l
					n -= l
				}
				// At least 16 bits are left: enough for the extra bits.
				run, size := uint(sym>>4), sym&15
				var val int16
				switch size {
				case 0:
					if run < 15 {
						d.eobrun = 1<<run + int(bits>>(64-run))
						bits <<= run
						n -= run
						goto eob
					}
				case 1:
					val = m1
					if bits>>63 != 0 {
						val = p1
					}
					bits <<= 1
					n--
				default:
					return FormatError("bad progressive refinement code")
				}
				// The new coefficient goes to the (run+1)th zero
				// coefficient from k; each non-zero one passed on the way
				// takes a correction bit.
				zeros := ^mask & band &^ (uint64(1)<<k - 1)
				for range run {
					zeros &= zeros - 1
				}
				at := se + 1
				if zeros != 0 {
					at = mbits.TrailingZeros64(zeros)
				}
				if corr := mask & band & (uint64(1)<<at - 1) &^ (uint64(1)<<k - 1); corr != 0 {
					bits, n, pos = correct(buf, bits, n, pos, corr, c, coef, p1, m1)
				}
				if at <= se && val != 0 {
					if slot := c.keepN[at]; slot != 255 {
						coef[slot] = val
					}
					mask |= 1 << at
				}
				k = at + 1
			}
			r.bits, r.n, r.pos = bits, n, pos
			*maskp = mask
			return nil
		}
	eob:
		if corr := mask & band &^ (uint64(1)<<k - 1); corr != 0 {
			bits, n, pos = correct(buf, bits, n, pos, corr, c, coef, p1, m1)
		}
		d.eobrun--
		r.bits, r.n, r.pos = bits, n, pos
		*maskp = mask
		return nil
	}
}

// correct reads the correction bits of the non-zero coefficients in corr
// (zigzag positions), in order, and applies them to the kept ones (T.81
// G.1.2.3: a 1 adds 2^Al away from zero unless that bit is already set).
// It takes and returns the bit reader's state.
func correct(buf []byte, bits uint64, n uint, pos int, corr uint64, c *component, coef []int16, p1, m1 int16) (uint64, uint, int) {
	kept := corr & c.keepMask
	if kept == 0 {
		for cnt := uint(mbits.OnesCount64(corr)); cnt > 0; {
			if n < 32 {
				bits |= be64(buf[pos:]) >> n
				pos += int(63-n) >> 3
				n |= 56
			}
			t := min(cnt, 32)
			bits <<= t
			n -= t
			cnt -= t
		}
		return bits, n, pos
	}
	for corr != 0 {
		p := mbits.TrailingZeros64(corr)
		corr &= corr - 1
		if n == 0 {
			bits |= be64(buf[pos:]) >> n
			pos += int(63-n) >> 3
			n |= 56
		}
		b := bits >> 63
		bits <<= 1
		n--
		if b == 0 || kept&(1<<p) == 0 {
			continue
		}
		slot := c.keepN[p]
		if coef[slot]&p1 != 0 {
			continue
		}
		if coef[slot] >= 0 {
			coef[slot] += p1
		} else {
			coef[slot] += m1
		}
	}
	return bits, n, pos
}

// reconstruct runs the inverse transform over every stored block.
func (d *decoder) reconstruct() {
	for i := range d.ncomp {
		c := &d.comp[i]
		s := c.ss
		n := c.nkeep
		stride := c.bw * s
		q := &d.quant[c.tq]
		blk := &d.blk
		for by := range c.bh {
			for bx := range c.bw {
				coef := c.coef[(by*c.bw+bx)*n:][:n]
				for slot, z := range c.natural {
					blk[z] = int32(coef[slot])
				}
				idct(blk, q, s, c.plane[by*s*stride+bx*s:], stride)
			}
		}
	}
}
