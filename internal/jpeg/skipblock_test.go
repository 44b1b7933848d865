package jpeg

import (
	"math/rand/v2"
	"testing"
)

// randomTable makes an AC table of random code lengths over syms: a
// canonical code that leaves the all-ones code unused, as T.81 requires.
func randomTable(t *testing.T, rng *rand.Rand, syms []uint8) *huffTable {
	var counts [16]uint8
	left := len(syms)
	room := 1 // codes still free at the current length
	for l := range 16 {
		room *= 2
		if left == 0 {
			break
		}
		take := rng.IntN(min(room-1, left) + 1)
		if l == 15 {
			take = min(room-1, left)
		}
		counts[l] = uint8(take)
		room -= take
		left -= take
	}
	var h huffTable
	if err := h.build(counts, syms[:len(syms)-left], true); err != nil {
		t.Fatal(err)
	}
	h.needMulti()
	return &h
}

// codesOf lists a table's symbols with their codes, from its lut and slow
// decoder.
func codesOf(h *huffTable) map[uint8][2]uint32 {
	out := map[uint8][2]uint32{}
	for l := uint32(1); l <= 16; l++ {
		for c := uint32(0); c < 1<<l; c++ {
			sym, n := h.symbolAt(uint64(c) << (64 - l))
			if n == uint(l) {
				if _, ok := out[sym]; !ok {
					out[sym] = [2]uint32{c, l}
				}
			}
		}
	}
	return out
}

// TestDecodeBlockDCMatchesDecodeBlock decodes random streams of blocks
// with decodeBlock (every coefficient, the path TestReducedMatchesDjpeg
// checks at 1/1 against libjpeg-turbo) and with decodeBlockDC (codes read
// past, several per lookup): after every block both must have consumed
// the same bits and computed the same DC. The blocks end at coefficient
// 63 without an end of block, with one, and some runs go past 63 (corrupt
// data both read the same way), with random tables so that short codes,
// end of block and ZRL codes group in every combination.
func TestDecodeBlockDCMatchesDecodeBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var dcSyms []uint8
	for s := range 12 {
		dcSyms = append(dcSyms, uint8(s))
	}
	for table := range 200 {
		var acSyms []uint8
		for _, s := range rng.Perm(256) {
			sym := uint8(s)
			if sym&15 == 0 && sym != 0 && sym != 0xF0 || sym&15 > 10 {
				continue
			}
			acSyms = append(acSyms, sym)
		}
		acSyms = acSyms[:2+rng.IntN(len(acSyms)-2)]
		acSyms = append(acSyms, 0x00, 0xF0) // end of block and ZRL
		rng.Shuffle(len(acSyms), func(i, j int) { acSyms[i], acSyms[j] = acSyms[j], acSyms[i] })
		dc, ac := randomTable(t, rng, dcSyms), randomTable(t, rng, acSyms)
		dcCodes, acCodes := codesOf(dc), codesOf(ac)
		var w bitWriter
		var usable []uint8
		for _, s := range acSyms {
			if _, ok := acCodes[s]; ok {
				usable = append(usable, s)
			}
		}
		for range 100 {
			s := uint8(rng.IntN(12))
			c, ok := dcCodes[s]
			if !ok {
				s, c = 0, dcCodes[0]
			}
			w.write(c[0], uint(c[1]))
			w.write(rng.Uint32(), uint(s))
			for k := 1; k < 64; {
				s := usable[rng.IntN(len(usable))]
				c := acCodes[s]
				w.write(c[0], uint(c[1]))
				run, size := int(s>>4), uint(s&15)
				if size == 0 && run != 15 {
					break
				}
				w.write(rng.Uint32(), size)
				k += run + 1
			}
		}
		data := append(w.flush(), make([]byte, 64)...)
		r1, r2 := &bitReader{buf: data}, &bitReader{buf: data}
		var p1, p2 int32
		var blk [256]int32
		var keep [64]uint8
		for k := range keep {
			keep[k] = uint8(k)
		}
		for b := 0; r1.consumed() < (len(data)-64)*8; b++ {
			err1 := decodeBlock(r1, &blk, &keep, dc, ac, &p1)
			err2 := decodeBlockDC(r2, dc, ac, &p2)
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("table %d block %d: decodeBlock %v, decodeBlockDC %v", table, b, err1, err2)
			}
			if err1 != nil {
				break
			}
			if r1.consumed() != r2.consumed() || p1 != p2 {
				t.Fatalf("table %d block %d: decodeBlockDC at bit %d, DC %d; decodeBlock at %d, DC %d",
					table, b, r2.consumed(), p2, r1.consumed(), p1)
			}
			blk = [256]int32{}
		}
	}
}
