package infer

import (
	"sort"
	"unsafe"
)

// Arena geometry, in floats. Activation sizes such as 96x56x56 floats are
// multiples of 4 KiB, so a plain first fit puts many buffers at the same
// address modulo 4 KiB, where a load from one can wrongly wait on a store to
// another (4 KiB aliasing) and streams compete for the same cache sets.
const (
	lineFloats = 16       // a 64-byte cache line
	pageFloats = 1024     // 4 KiB: the aliasing period of loads and stores
	arenaAlign = 4 * 1024 // bytes: where an arena's first float sits
)

// The layout's rules, off by default: every offset a multiple of
// layoutAlign floats, and live buffers at least layoutStagger floats apart
// modulo 4 KiB. Measured on (lineFloats, 8*lineFloats) and (lineFloats, 4*
// lineFloats) against the plain first fit, alternated on MobileNetV2,
// EfficientNet-B0 and ResNet-50 (BENCHMARKS.md, issue 16, session 5b), no
// model was faster beyond the host's noise, and ResNet-50 looked 1-4%
// slower, so the plain first fit stays.
var (
	layoutAlign   = 1
	layoutStagger = 0
)

// layout places every buffer in the arena and returns the floats it needs.
// It is a first fit in order of first use, largest first among ties, with
// two rules on every offset: it is a multiple of layoutAlign, and, when the
// page has room, it differs modulo 4 KiB by at least layoutStagger from
// every buffer whose lifetime overlaps this one.
func layout(bufs []*buffer) int {
	order := append([]*buffer(nil), bufs...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].first != order[j].first {
			return order[i].first < order[j].first
		}
		return order[i].size > order[j].size
	})
	var placed, live []*buffer
	arena := 0
	for _, b := range order {
		live = live[:0]
		for _, q := range placed {
			if q.first <= b.last && b.first <= q.last {
				live = append(live, q)
			}
		}
		b.off = fit(b.size, live)
		placed = append(placed, b)
		arena = max(arena, b.off+b.size)
	}
	return arena
}

// fit returns the lowest offset for size floats that overlaps none of live
// and keeps the layout's rules. Every step only moves the offset up, and
// past the end of live nothing collides, so the loop ends.
func fit(size int, live []*buffer) int {
	off := 0
	for {
		off = alignUp(off, layoutAlign)
		if q := collision(off, size, live); q != nil {
			off = q.off + q.size
			continue
		}
		if s := stagger(off, live); s != off {
			off = s
			continue
		}
		return off
	}
}

// collision returns a buffer of live that [off, off+size) overlaps, or nil.
func collision(off, size int, live []*buffer) *buffer {
	for _, q := range live {
		if off < q.off+q.size && q.off < off+size {
			return q
		}
	}
	return nil
}

// stagger returns the lowest layoutAlign-aligned offset from off (which is
// aligned) that lies at least layoutStagger from every live buffer modulo
// 4 KiB, or off when no offset in the next page does (too many live
// buffers: then only the alignment holds).
func stagger(off int, live []*buffer) int {
	for c := off; c < off+pageFloats; c += layoutAlign {
		if apart(c, live) {
			return c
		}
	}
	return off
}

// apart reports whether off lies at least layoutStagger from every live
// buffer's offset modulo 4 KiB.
func apart(off int, live []*buffer) bool {
	for _, q := range live {
		if pageDistance(off, q.off) < layoutStagger {
			return false
		}
	}
	return true
}

// pageDistance is the distance of two offsets modulo 4 KiB, in floats.
func pageDistance(a, b int) int {
	d := ((a-b)%pageFloats + pageFloats) % pageFloats
	return min(d, pageFloats-d)
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// newArena returns n zeroed floats whose first element is 4 KiB-aligned,
// so the layout's offsets modulo 4 KiB are the addresses' too. (Go's large
// allocations are page-aligned already; this does not rely on it.)
func newArena(n int) []float32 {
	const pad = arenaAlign / 4
	a := make([]float32, n+pad)
	skip := 0
	if r := uintptr(unsafe.Pointer(&a[0])) % arenaAlign; r != 0 {
		skip = int(arenaAlign-r) / 4
	}
	return a[skip : skip+n : skip+n]
}
