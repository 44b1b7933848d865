package infer

import (
	"sync"

	"github.com/mlserve/mlserve/internal/gemm"
)

var winoScratches = sync.Pool{New: func() any { return new(winoScratch) }}

// winoScratch is one worker's rows for the input transform.
type winoScratch struct {
	rows []float32 // m+2 zero-padded input rows
	eo   []float32 // their even and odd columns, for gemm.WinoInput
	// plane holds the columns of every zero-padded row of one input plane
	// split by phase (column mod m), for gemm.WinoInput and WinoInput4:
	// padded row R's phase p at (m*R+p)*ws, so a tile row's m*(m+2) arrays
	// are consecutive. Each input row is split once, not once per tile row
	// that reads it.
	plane   []float32
	planeOf int // the plane plane holds, (c*n+b)+1; 0: none
	rows0   int // the tile rows [rows0, rows1) of it split
	rows1   int
	padded  []float32 // one zero-padded input row, for splitPlane
	v, m    []float32 // a tile block's V and M (winoConv.block)
}

// planeRows makes sc.plane hold the split rows of tile rows [ty, ty1) of
// input plane (c, b), where ty1 is the block's last tile row in that image
// plus one (the block's tiles p0 <= p < p0+np), splitting them if it does
// not hold them yet.
func (wc *winoConv) planeRows(sc *winoScratch, in []float32, c, b, ty, p0, np, ws int) {
	key := c*wc.n + b + 1
	if sc.planeOf == key && sc.rows0 <= ty && ty < sc.rows1 {
		return
	}
	ty1 := wc.th
	if last := (p0 + np - 1) / wc.tw; last/wc.th == b {
		ty1 = last%wc.th + 1
	}
	hw := wc.g.h * wc.g.w
	wc.splitPlane(sc, in[(c*wc.n+b)*hw:(c*wc.n+b+1)*hw], ws, ty, ty1)
	sc.planeOf, sc.rows0, sc.rows1 = key, ty, ty1
}

// splitPlane fills sc.plane with the columns of the padded rows of tile
// rows [ty0, ty1) of input plane src (h x w) split by phase, each phase ws
// floats long.
func (wc *winoConv) splitPlane(sc *winoScratch, src []float32, ws, ty0, ty1 int) {
	g, m := wc.g, wc.m
	prows := m*wc.th + 2
	if need := m*prows*ws + 16; len(sc.plane) < need {
		sc.plane = make([]float32, need)
	}
	if len(sc.padded) < m*ws {
		sc.padded = make([]float32, m*ws)
	}
	pr := sc.padded[:m*ws] // one zero-padded row
	n := min(g.w, m*ws-g.pl)
	clear(pr)
	// Tile t reads phases at t and t+1: tw+1 floats a phase. The kernels
	// also read (and mask off) up to 16 past them, which may hold anything.
	used := wc.tw + 1
	r0, r1 := m*ty0, m*ty1+2
	mid, midEnd := max(r0, g.pt), min(r1, g.pt+g.h) // the rows inside the input plane
	for r := r0; r < r1; r++ {
		dst := sc.plane[m*r*ws : m*(r+1)*ws]
		iy := r - g.pt
		if iy < 0 || iy >= g.h {
			for p := range m {
				clear(dst[p*ws : p*ws+used])
			}
			continue
		}
		if r == mid && winoVec && gemm.WinoSplit(sc.plane[m*r*ws:], ws, src[iy*g.w:], g.w, g.pl, midEnd-r, used, m) {
			r = midEnd - 1 // every row inside the plane in one call
			continue
		}
		copy(pr[g.pl:g.pl+n], src[iy*g.w:iy*g.w+n])
		if m == 4 {
			p0, p1, p2, p3 := dst[:used], dst[ws:ws+used], dst[2*ws:2*ws+used], dst[3*ws:3*ws+used]
			for t := range p0 {
				q := pr[4*t : 4*t+4 : 4*t+4]
				p0[t], p1[t], p2[t], p3[t] = q[0], q[1], q[2], q[3]
			}
			continue
		}
		e, o := dst[:used], dst[ws:ws+used]
		for t := range e {
			q := pr[2*t : 2*t+2 : 2*t+2]
			e[t], o[t] = q[0], q[1]
		}
	}
}

// winoVec is the test hook that turns the vector transform kernels off.
var winoVec = true

// input writes V[ξ][c][p-p0] = (B^T d B)[ξ] for the tiles p0 <= p < p0+np
// of channel c.
func (wc *winoConv) input(v, in []float32, c, p0, np int, sc *winoScratch) {
	g := wc.g
	cnp, _ := wc.strides(np)
	// Four input rows of the current tile row, zero-padded: padded column
	// 2*tx+j is input column 2*tx+j-pl.
	width := max(2*wc.tw+2, g.pl+g.w)
	ws := wc.tw + 1 + 16 // an even or odd half row, with room for a vector past it
	if len(sc.rows) < 4*width {
		sc.rows = make([]float32, 4*width)
		sc.eo = make([]float32, 8*ws+16)
	}
	rows := sc.rows[:4*width]
	out := v[c*np:]
	bt, tx := p0/wc.tw, p0%wc.tw
	for q := 0; q < np; bt, tx = bt+1, 0 {
		b, ty := bt/wc.th, bt%wc.th
		plane := in[(c*wc.n+b)*g.h*g.w : (c*wc.n+b+1)*g.h*g.w]
		if count := min(wc.tw-tx, np-q); winoVec && gemm.HasWinoKernels() && count >= 4 {
			wc.planeRows(sc, in, c, b, ty, p0, np, ws)
			if gemm.WinoInput(sc.plane[4*ty*ws+tx:], ws, out[q:], cnp, count) {
				q += count
				continue // count reached the tile row's end or the chunk's
			}
		}
		for i := range 4 {
			r := rows[i*width : (i+1)*width]
			clear(r)
			if iy := 2*ty - g.pt + i; iy >= 0 && iy < g.h {
				copy(r[g.pl:g.pl+g.w], plane[iy*g.w:(iy+1)*g.w])
			}
		}
		r0, r1, r2, r3 := rows[:width], rows[width:2*width], rows[2*width:3*width], rows[3*width:]
		if count := min(wc.tw-tx, np-q); winoVec && count >= 4 {
			eo := sc.eo
			for i, r := range [4][]float32{r0, r1, r2, r3} {
				e, o := eo[2*i*ws:], eo[(2*i+1)*ws:]
				for t := range wc.tw + 1 {
					e[t], o[t] = r[2*t], r[2*t+1]
				}
			}
			if gemm.WinoInput(eo[tx:], ws, out[q:], cnp, count) {
				tx, q = tx+count, q+count
				continue
			}
		}
		for ; tx < wc.tw && q < np; tx, q = tx+1, q+1 {
			x := 2 * tx
			a0, a1, a2, a3 := r0[x], r0[x+1], r0[x+2], r0[x+3]
			b0, b1, b2, b3 := r1[x], r1[x+1], r1[x+2], r1[x+3]
			c0, c1, c2, c3 := r2[x], r2[x+1], r2[x+2], r2[x+3]
			d0, d1, d2, d3 := r3[x], r3[x+1], r3[x+2], r3[x+3]
			// B^T d: rows of t.
			t00, t01, t02, t03 := a0-c0, a1-c1, a2-c2, a3-c3
			t10, t11, t12, t13 := b0+c0, b1+c1, b2+c2, b3+c3
			t20, t21, t22, t23 := c0-b0, c1-b1, c2-b2, c3-b3
			t30, t31, t32, t33 := b0-d0, b1-d1, b2-d2, b3-d3
			// (B^T d) B, stored at ξ = 4*row + column.
			o := out[q:]
			_ = o[15*cnp]
			o[0], o[cnp], o[2*cnp], o[3*cnp] = t00-t02, t01+t02, t02-t01, t01-t03
			o[4*cnp], o[5*cnp], o[6*cnp], o[7*cnp] = t10-t12, t11+t12, t12-t11, t11-t13
			o[8*cnp], o[9*cnp], o[10*cnp], o[11*cnp] = t20-t22, t21+t22, t22-t21, t21-t23
			o[12*cnp], o[13*cnp], o[14*cnp], o[15*cnp] = t30-t32, t31+t32, t32-t31, t31-t33
		}
	}
}

// output writes the 2x2 outputs Y = A^T M A (+ bias, residual, ReLU) of the
// tiles p0 <= p < p0+np for output channel k.
func (wc *winoConv) output(dst, m []float32, k, p0, np int) {
	g := wc.g
	_, knp := wc.strides(np)
	src := m[k*np:]
	bias := wc.bias[k]
	var y [4]float32
	bt, tx := p0/wc.tw, p0%wc.tw
	for q := 0; q < np; bt, tx = bt+1, 0 {
		b, ty := bt/wc.th, bt%wc.th
		plane, res := wc.outPlane(dst, k, b)
		oy := 2 * ty
		rows := min(2, g.oh-oy)
		for ; tx < wc.tw && q < np; tx, q = tx+1, q+1 {
			if full := g.ow / 2; winoVec && res == nil && rows == 2 && tx < full {
				count := min(full-tx, np-q)
				i := oy*g.ow + 2*tx
				if gemm.WinoOutput(src[q:], knp, count, plane[i:], plane[i+g.ow:], &wc.bias[k], wc.relu) {
					tx, q = tx+count-1, q+count-1
					continue
				}
			}
			s := src[q:]
			_ = s[15*knp]
			// A^T M: two rows of four.
			r0 := s[0] + s[4*knp] + s[8*knp]
			r1 := s[knp] + s[5*knp] + s[9*knp]
			r2 := s[2*knp] + s[6*knp] + s[10*knp]
			r3 := s[3*knp] + s[7*knp] + s[11*knp]
			r4 := s[4*knp] - s[8*knp] - s[12*knp]
			r5 := s[5*knp] - s[9*knp] - s[13*knp]
			r6 := s[6*knp] - s[10*knp] - s[14*knp]
			r7 := s[7*knp] - s[11*knp] - s[15*knp]
			y[0], y[1] = r0+r1+r2+bias, r1-r2-r3+bias
			y[2], y[3] = r4+r5+r6+bias, r5-r6-r7+bias
			ox := 2 * tx
			if rows == 2 && ox+1 < g.ow && res == nil { // a whole tile, no residual
				if wc.relu {
					y[0], y[1], y[2], y[3] = relu0(y[0]), relu0(y[1]), relu0(y[2]), relu0(y[3])
				}
				i := oy*g.ow + ox
				row0, row1 := plane[i:i+2:i+2], plane[i+g.ow:i+g.ow+2:i+g.ow+2]
				row0[0], row0[1], row1[0], row1[1] = y[0], y[1], y[2], y[3]
				continue
			}
			cols := min(2, g.ow-ox)
			for a := range rows {
				i := (oy+a)*g.ow + ox
				for bb := range cols {
					val := y[a*2+bb]
					if res != nil {
						val += res[i+bb]
					}
					if wc.relu && val < 0 {
						val = 0
					}
					plane[i+bb] = val
				}
			}
		}
	}
}

// outPlane returns output channel k's plane of image b in dst and in the
// residual (nil without one).
func (wc *winoConv) outPlane(dst []float32, k, b int) (plane, res []float32) {
	ohw := wc.g.oh * wc.g.ow
	i := (k*wc.n + b) * ohw
	if wc.res != nil {
		res = wc.res[i : i+ohw]
	}
	return dst[i : i+ohw], res
}

// relu0 is max(v, 0) that keeps NaN, like the GEMM epilogue.
func relu0(v float32) float32 {
	if v < 0 {
		return 0
	}
	return v
}
