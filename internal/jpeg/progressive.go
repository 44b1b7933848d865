package jpeg

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
	return func(r *bitReader, sc *scanComp, bx, by int) error {
		c := sc.c
		coef, mask := c.blockCoefs(bx, by)
		// refine applies a correction bit to the non-zero coefficient k.
		refine := func(k int) {
			if !r.bit() {
				return
			}
			if slot := c.keepN[k]; slot != 255 && coef[slot]&p1 == 0 {
				if coef[slot] >= 0 {
					coef[slot] += p1
				} else {
					coef[slot] += m1
				}
			}
		}
		k := ss
		if d.eobrun == 0 {
			for k <= se {
				sym, err := r.symbol(sc.ac)
				if err != nil {
					return err
				}
				run, size := int(sym>>4), sym&15
				var val int16
				switch size {
				case 0:
					if run < 15 {
						d.eobrun = 1 << run
						if run > 0 {
							d.eobrun += int(r.receive(uint(run)))
						}
						goto eob
					}
				case 1:
					val = m1
					if r.bit() {
						val = p1
					}
				default:
					return FormatError("bad progressive refinement code")
				}
				// Skip run zero coefficients, refining the non-zero ones
				// passed on the way, then place val.
				for ; k <= se; k++ {
					if *mask&(1<<k) != 0 {
						refine(k)
						continue
					}
					if run == 0 {
						if val != 0 {
							if slot := c.keepN[k]; slot != 255 {
								coef[slot] = val
							}
							*mask |= 1 << k
						}
						k++
						break
					}
					run--
				}
			}
			return nil
		}
	eob:
		for ; k <= se; k++ {
			if *mask&(1<<k) != 0 {
				refine(k)
			}
		}
		d.eobrun--
		return nil
	}
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
				for k, slot := range c.keepN {
					if slot != 255 {
						blk[zigzag[k]] = int32(coef[slot])
					}
				}
				idct(blk, q, s, c.plane[by*s*stride+bx*s:], stride)
			}
		}
	}
}
