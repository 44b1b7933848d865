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

// TestHuffmanOversubscribed checks a table with more codes than fit, which
// image/jpeg decodes with: the codes that fit decode, the rest never match.
func TestHuffmanOversubscribed(t *testing.T) {
	var counts [16]uint8
	counts[0] = 3 // three 1-bit codes: only 0 and 1 exist
	var h huffTable
	if err := h.build(counts, []uint8{1, 2, 3}, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bit  uint64
		want uint8
	}{{0, 1}, {1, 2}} {
		r := &bitReader{buf: make([]byte, 16)}
		r.buf[0] = byte(c.bit << 7)
		if s, err := r.symbol(&h); err != nil || s != c.want {
			t.Errorf("code %d: symbol %d, %v; want %d", c.bit, s, err, c.want)
		}
	}
}

func TestUnstuff(t *testing.T) {
	data := []byte{
		1, 2, 0xFF, 0x00, 3, // stuffed 0xFF
		0xFF, 0xD0, 4, 5, // restart 0
		0xFF, 0xFF, 0xD1, 6, // fill byte before restart 1
		0xFF, 0xD9, // EOI ends the scan
	}
	s := scanPool.Get().(*scanBuffer)
	s.start(&input{data: data}, 0)
	for i, want := range [][]byte{{1, 2, 0xFF, 3}, {4, 5}, {6}} {
		if i > 0 {
			if !s.restart() {
				t.Fatalf("segment %d: ended by 0x%02X, want a restart marker", i-1, s.marker)
			}
			s.nextSegment()
		}
		if got := s.buf[:s.n]; !s.done || !bytes.Equal(got, want) {
			t.Errorf("segment %d: % x done %v, want % x", i, got, s.done, want)
		}
		if pad := s.buf[s.n : s.n+scanPad]; !bytes.Equal(pad, make([]byte, scanPad)) {
			t.Errorf("segment %d: padding not zero", i)
		}
	}
	if s.marker != mEOI || s.eof {
		t.Errorf("marker 0x%02X eof %v, want EOI", s.marker, s.eof)
	}
	if next := s.finish(); next != len(data)-2 {
		t.Errorf("next %d, want %d", next, len(data)-2)
	}
	s.start(&input{data: data}, 0)
	if next := s.finish(); next != len(data)-2 {
		t.Errorf("finish from the start: next %d, want %d", next, len(data)-2)
	}
	s.start(&input{data: []byte{7, 8, 0xFF}}, 0)
	if !s.eof || !bytes.Equal(s.buf[:s.n], []byte{7, 8}) {
		t.Errorf("data ending in 0xFF: % x eof %v", s.buf[:s.n], s.eof)
	}
}

// TestUnstuffWindow checks a segment longer than the window: the bytes a
// reader takes as the window moves on are the unstuffed data.
func TestUnstuffWindow(t *testing.T) {
	var data, want []byte
	for i := range 3*windowSize + 777 {
		b := byte(i * 7)
		want = append(want, b)
		data = append(data, b)
		if b == 0xFF {
			data = append(data, 0)
		}
	}
	data = append(data, 0xFF, mEOI)
	s := scanPool.Get().(*scanBuffer)
	s.start(&input{data: data}, 0)
	r := &bitReader{buf: s.buf}
	r.setLimit(s)
	var got []byte
	for len(got) < len(want) {
		s.more(r)
		step := min(100, s.n-r.pos)
		got = append(got, s.buf[r.pos:r.pos+step]...)
		r.pos += step
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read %d bytes through the window, not the data", len(got))
	}
	if !s.done || s.marker != mEOI || r.lim != s.n*8 {
		t.Errorf("done %v marker 0x%02X lim %d, want the end at %d", s.done, s.marker, r.lim, s.n*8)
	}
}
