package infer

import (
	"path/filepath"
	"testing"
	"unsafe"
)

// setLayout sets the layout's rules for the rest of the test.
func setLayout(t *testing.T, align, stagger int) {
	a, s := layoutAlign, layoutStagger
	t.Cleanup(func() { layoutAlign, layoutStagger = a, s })
	layoutAlign, layoutStagger = align, stagger
}

// layouts are the rules the tests check: the default, and the staggered
// layout that was measured.
var layouts = []struct {
	name           string
	align, stagger int
}{{"default", layoutAlign, layoutStagger}, {"staggered", lineFloats, 8 * lineFloats}}

// checkLayout fails unless every offset is layoutAlign-aligned, every buffer lies
// inside the arena and no two buffers live at the same time overlap.
func checkLayout(t *testing.T, name string, bufs []*buffer, arena int) {
	t.Helper()
	for i, b := range bufs {
		if b.off%layoutAlign != 0 || b.off < 0 || b.off+b.size > arena {
			t.Errorf("%s: buffer %d at %d+%d: not aligned or outside the arena of %d", name, i, b.off, b.size, arena)
		}
		for j, q := range bufs[:i] {
			if q.first <= b.last && b.first <= q.last && b.off < q.off+q.size && q.off < b.off+b.size {
				t.Errorf("%s: buffers %d [%d,%d] and %d [%d,%d] overlap at %d+%d and %d+%d",
					name, j, q.first, q.last, i, b.first, b.last, q.off, q.size, b.off, b.size)
			}
		}
	}
}

// peakLive is the most floats live at one step: no layout needs less.
func peakLive(bufs []*buffer) int {
	peak := 0
	for _, b := range bufs {
		at, sum := b.first, 0
		for _, q := range bufs {
			if q.first <= at && at <= q.last {
				sum += q.size
			}
		}
		peak = max(peak, sum)
	}
	return peak
}

func TestLayout(t *testing.T) {
	page := pageFloats
	tests := []struct {
		name  string
		bufs  [][3]int // size, first, last
		apart bool     // every pair of live buffers at least layoutStagger apart modulo 4 KiB
		want  []int    // offsets, when given
	}{
		{"one", [][3]int{{96 * 56 * 56, 0, 0}}, true, []int{0}},
		{"chain of 4 KiB multiples", [][3]int{{4 * page, -1, 0}, {8 * page, 0, 1}, {4 * page, 1, 2}, {2 * page, 2, 3}}, true, nil},
		{"reuse after death", [][3]int{{page, 0, 1}, {page, 2, 3}}, true, []int{0, 0}},
		{"odd sizes align to a line", [][3]int{{3, 0, 2}, {5, 1, 2}, {17, 2, 3}}, true, nil},
		{"residual kept across a block", [][3]int{{16 * page, 0, 4}, {96 * page, 1, 2}, {96 * page, 2, 3}, {16 * page, 3, 4}, {16 * page, 4, 5}}, true, nil},
		{"tiny buffers under a large one", [][3]int{{64 * page, 0, 9}, {1, 1, 2}, {1, 2, 3}, {1, 3, 4}, {1, 4, 5}}, true, nil},
		{"more live buffers than slots", func() [][3]int {
			var bs [][3]int
			for i := range 24 {
				bs = append(bs, [3]int{page, i, 30})
			}
			return bs
		}(), false, nil},
		{"empty buffer", [][3]int{{0, 0, 1}, {page, 0, 1}}, true, nil},
	}
	for _, l := range layouts {
		setLayout(t, l.align, l.stagger)
		for _, tt := range tests {
			checkLayoutCase(t, l.name+": "+tt.name, tt.bufs, tt.apart, tt.want)
		}
	}
}

// checkLayoutCase lays out buffers of the given sizes and lifetimes and
// checks the layout, the stagger where apart, and the offsets in want.
func checkLayoutCase(t *testing.T, name string, sizes [][3]int, apart bool, want []int) {
	t.Helper()
	var bufs []*buffer
	for _, s := range sizes {
		bufs = append(bufs, &buffer{size: s[0], first: s[1], last: s[2]})
	}
	arena := layout(bufs)
	checkLayout(t, name, bufs, arena)
	if apart && layoutStagger > 0 {
		for i, b := range bufs {
			for _, q := range bufs[:i] {
				if q.first <= b.last && b.first <= q.last && pageDistance(b.off, q.off) < layoutStagger {
					t.Errorf("%s: live buffers at %d and %d are %d floats apart modulo 4 KiB", name, q.off, b.off, pageDistance(b.off, q.off))
				}
			}
		}
	}
	for i, w := range want {
		if bufs[i].off != w {
			t.Errorf("%s: buffer %d at %d, want %d", name, i, bufs[i].off, w)
		}
	}
	// The stagger costs less than a page per live buffer over the least
	// possible arena.
	if peak, n := peakLive(bufs), len(bufs); arena > peak+n*pageFloats {
		t.Errorf("%s: arena %d floats, peak live %d, %d buffers", name, arena, peak, n)
	}
}

// TestLayoutModels plans the benchmark models (fused inverted-residual
// blocks, squeeze-and-excite, ResNet-50's Winograd temporaries) at batch 1
// and 8 and checks the layout: no live buffers overlap, and each op's
// inputs, output and temporaries start at least layoutStagger apart
// modulo 4 KiB.
func TestLayoutModels(t *testing.T) {
	if raceEnabled {
		t.Skip("plans of the models' buffers, no concurrency: make test-full runs it without -race")
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			setLayout(t, l.align, l.stagger)
			checkModelLayouts(t)
		})
	}
}

func checkModelLayouts(t *testing.T) {
	for _, file := range []string{
		"families/bench/mobilenetv2-1.0-opset13.onnx",
		"families/bench/efficientnet-b0-opset13.onnx",
		"models/resnet50-opset11.onnx",
	} {
		c, err := LoadFile(filepath.Join(fixtures, file), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 8} {
			p, err := newPlan(c.net, n, false)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(file)
			checkLayout(t, name, p.bufs, p.arena)
			tmps := 0
			for _, o := range p.ops {
				bs := []*buffer{o.out.buf}
				for _, in := range o.ins {
					if in.buf != nil && in.buf != o.out.buf {
						bs = append(bs, in.buf)
					}
				}
				bs = append(bs, o.tmp...)
				tmps += len(o.tmp)
				for i, b := range bs {
					for _, q := range bs[:i] {
						if b != q && pageDistance(b.off, q.off) < layoutStagger {
							t.Errorf("%s batch %d: %s %s: buffers at %d and %d are %d floats apart modulo 4 KiB",
								name, n, o.l.typ, o.l.name, q.off, b.off, pageDistance(b.off, q.off))
						}
					}
				}
			}
			peak := peakLive(p.bufs)
			t.Logf("%s batch %d: %d buffers (%d temporaries), arena %d floats, peak live %d (+%.2f%%)",
				name, n, len(p.bufs), tmps, p.arena, peak, 100*float64(p.arena-peak)/float64(peak))
		}
	}
}

func TestNewArena(t *testing.T) {
	for _, n := range []int{0, 1, 17, 1000, 1 << 20, 3<<20 + 5} {
		a := newArena(n)
		if len(a) != n || cap(a) != n {
			t.Errorf("newArena(%d): len %d cap %d", n, len(a), cap(a))
		}
		if n == 0 {
			continue
		}
		if r := uintptr(unsafe.Pointer(&a[0])) % arenaAlign; r != 0 {
			t.Errorf("newArena(%d): first float at %d modulo %d", n, r, arenaAlign)
		}
	}
}
