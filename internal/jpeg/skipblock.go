package jpeg

// decodeBlockDC reads one sequential block of which only the DC
// coefficient is needed (the 1/8 scale): the DC difference is added to
// *pred and the AC codes are read past through the AC table's skip
// entries, without their values. It consumes exactly the bits decodeBlock
// does, so what follows decodes the same.
func decodeBlockDC(r *bitReader, dc, ac *huffTable, pred *int32) error {
	bits, n, pos, err := blockDC(r, dc, pred)
	if err != nil {
		return err
	}
	buf := r.buf
	for k := 1; k < 64; k++ {
		if n < 32 {
			bits |= be64(buf[pos:pos+8]) >> n
			pos += int(63-n) >> 3
			n |= 56
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
	}
	r.bits, r.n, r.pos = bits, n, pos
	return nil
}
