package jpeg

import (
	"bytes"
	"testing"
)

// bitWriter packs codes MSB first, for building test streams.
type bitWriter struct {
	out  []byte
	acc  uint64
	bits uint
}

func (w *bitWriter) write(v uint32, n uint) {
	w.acc = w.acc<<n | uint64(v)&(1<<n-1)
	w.bits += n
	for w.bits >= 8 {
		w.out = append(w.out, byte(w.acc>>(w.bits-8)))
		w.bits -= 8
	}
}

func (w *bitWriter) flush() []byte {
	if w.bits > 0 {
		w.write(0xFF, 8-w.bits) // pad with 1 bits, as encoders do
	}
	return w.out
}

func TestHuffmanDecode(t *testing.T) {
	// A canonical code with lengths 2, 3, 3, ..., up to 16 bits, so that
	// some codes need the slow path past lookBits.
	var counts [16]uint8
	counts[1], counts[2], counts[5], counts[11], counts[15] = 1, 2, 3, 2, 1
	syms := []uint8{0x01, 0x02, 0x11, 0x03, 0x21, 0x00, 0x31, 0xF0, 0x0A}
	var h huffTable
	if err := h.build(counts, syms, true); err != nil {
		t.Fatal(err)
	}
	// The canonical codes (T.81 C.2), by hand: 00; 010 011; 100000 100001
	// 100010; 100011000000 100011000001; 1000110000100000.
	codes := []struct {
		code uint32
		n    uint
	}{{0b00, 2}, {0b010, 3}, {0b011, 3}, {0b100000, 6}, {0b100001, 6}, {0b100010, 6},
		{0b100011000000, 12}, {0b100011000001, 12}, {0b1000110000100000, 16}}
	var w bitWriter
	order := []int{8, 0, 6, 3, 7, 1, 2, 5, 4, 8, 8, 0}
	for _, i := range order {
		w.write(codes[i].code, codes[i].n)
	}
	buf := append(w.flush(), make([]byte, 16)...)
	r := &bitReader{buf: buf}
	for _, i := range order {
		s, err := r.symbol(&h)
		if err != nil {
			t.Fatalf("symbol %d: %v", i, err)
		}
		if s != syms[i] {
			t.Fatalf("symbol %#x, want %#x", s, syms[i])
		}
	}
	// An unassigned code is an error, not a symbol.
	var bad bitWriter
	bad.write(0xFFFF, 16)
	r = &bitReader{buf: append(bad.flush(), make([]byte, 16)...)}
	if _, err := r.symbol(&h); err == nil {
		t.Error("unassigned code decoded")
	}
}

func TestHuffmanBadTable(t *testing.T) {
	var counts [16]uint8
	counts[0] = 3 // three 1-bit codes cannot exist
	var h huffTable
	if err := h.build(counts, []uint8{1, 2, 3}, false); err == nil {
		t.Error("over-subscribed table accepted")
	}
}

func TestUnstuff(t *testing.T) {
	data := []byte{
		1, 2, 0xFF, 0x00, 3, // stuffed 0xFF
		0xFF, 0xD0, 4, 5, // restart 0
		0xFF, 0xFF, 0xD1, 6, // fill byte before restart 1
		0xFF, 0xD9, // EOI ends the scan
	}
	var s scanBuffer
	next := s.unstuff(data, 0)
	if got, want := s.buf[:s.end], []byte{1, 2, 0xFF, 3, 4, 5, 6}; !bytes.Equal(got, want) {
		t.Errorf("data % x, want % x", got, want)
	}
	if want := []int{0, 4, 6}; len(s.starts) != 3 || s.starts[1] != 4 || s.starts[2] != 6 {
		t.Errorf("segments %v, want %v", s.starts, want)
	}
	if next != len(data)-2 || s.eof {
		t.Errorf("next %d eof %v, want %d false", next, s.eof, len(data)-2)
	}
	if len(s.buf)-s.end < scanPad {
		t.Errorf("padding %d, want %d", len(s.buf)-s.end, scanPad)
	}
	s.unstuff([]byte{7, 8, 0xFF}, 0)
	if !s.eof || !bytes.Equal(s.buf[:s.end], []byte{7, 8}) {
		t.Errorf("data ending in 0xFF: % x eof %v", s.buf[:s.end], s.eof)
	}
}
