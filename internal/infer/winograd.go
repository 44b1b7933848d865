package infer

import (
	"sync"

	"github.com/mlserve/mlserve/internal/gemm"
)

// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2015). Each 2x2 block of
// output, a tile, is computed from the 4x4 input patch d around it as
//
//	Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
//
// so per tile and channel pair 16 multiplications replace 36. Over a whole
// layer the elementwise products become 16 GEMMs, one per position ξ of
// the 4x4 transformed tile: M[ξ] (cout x tiles) = U[ξ] (cout x cin, the
// weights transformed once at load) * V[ξ] (cin x tiles, the transformed
// input). The transforms use only additions, subtractions and halvings, so
// the error stays at float32 rounding (measured in winograd_test.go).
//
//	B^T = | 1  0 -1  0 |   G = | 1    0    0  |   A^T = | 1 1  1  0 |
//	      | 0  1  1  0 |       | 1/2  1/2  1/2 |         | 0 1 -1 -1 |
//	      | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
//	      | 0  1  0 -1 |       | 0    0    1  |

// winoMinChannels (a variable for tests) is the channel count (input and
// output) from which a 3x3 stride-1 convolution runs as Winograd. The
// transforms cost about 40*(cin+cout) operations per tile against the
// 20*cin*cout multiply-adds they save, so they pay off with enough
// channels. Measured with BenchmarkConv on one core: with the AVX-512
// transform kernels Winograd was 1.26-1.7x the direct GEMM from 64 to 512
// channels (ResNet-50 has none fewer); with the Go loops 1.15-1.5x from
// 128 channels, but 0.8x at 64.
var winoMinChannels = func() int {
	if gemm.HasWinoKernels() {
		return 64
	}
	return 128
}()

// winoEnabled is the test hook that turns Winograd off for models loaded
// from now on.
var winoEnabled = true

// useWino reports whether a convolution layer runs as Winograd.
func useWino(l *layer) bool {
	return winoEnabled && winoEligible(l) && min(l.cin, l.cout) >= winoMinChannels
}

// winoChunkFloats bounds V and M (16 x channels x tiles each) per chunk of
// tiles: 4 MiB, so large batches do not grow the arena by the full size.
const winoChunkFloats = 1 << 20

// winoWeights are a 3x3 convolution's weights transformed for F(2x2, 3x3):
// u[ξ] is the cout x cin matrix of (G g G^T)[ξ], packed for the GEMM.
type winoWeights struct {
	u [16]*gemm.PackedA
}

// winoEligible reports whether a convolution layer can run as Winograd.
func winoEligible(l *layer) bool {
	return l.kind == kConv && l.kh == 3 && l.kw == 3 && l.sh == 1 && l.sw == 1
}

// newWinoWeights transforms w [cout][cin][3][3] (in float64, rounded once).
func newWinoWeights(w []float32, cout, cin int) *winoWeights {
	var u [16][]float32
	for x := range u {
		u[x] = make([]float32, cout*cin)
	}
	for k := range cout {
		for c := range cin {
			g := w[(k*cin+c)*9 : (k*cin+c)*9+9]
			t := winoKernel(g)
			for x := range u {
				u[x][k*cin+c] = float32(t[x])
			}
		}
	}
	ww := &winoWeights{}
	for x := range u {
		ww.u[x] = gemm.PackA(u[x], cout, cin)
	}
	return ww
}

// winoKernel returns G g G^T for one 3x3 kernel g (row-major), row-major.
func winoKernel(g []float32) [16]float64 {
	var gg [4][3]float64 // G g
	for j := range 3 {
		a, b, c := float64(g[j]), float64(g[3+j]), float64(g[6+j])
		gg[0][j], gg[1][j], gg[2][j], gg[3][j] = a, (a+b+c)/2, (a-b+c)/2, c
	}
	var t [16]float64
	for i := range 4 {
		a, b, c := gg[i][0], gg[i][1], gg[i][2]
		t[i*4], t[i*4+1], t[i*4+2], t[i*4+3] = a, (a+b+c)/2, (a-b+c)/2, c
	}
	return t
}

// winoConv runs one Winograd convolution on CNHW activations.
type winoConv struct {
	g         geom
	n         int // batch
	cout      int
	th, tw    int // tiles per image: ceil(oh/2) x ceil(ow/2)
	tiles     int // n * th * tw
	chunk     int // tiles per pass
	w         *winoWeights
	bias, res []float32
	relu      bool
	cs, bs    [16][]float32 // the 16 products' C and B, for gemm.MulMany
}

func newWinoConv(g geom, n, cout int) *winoConv {
	wc := &winoConv{g: g, n: n, cout: cout, th: (g.oh + 1) / 2, tw: (g.ow + 1) / 2}
	wc.tiles = n * wc.th * wc.tw
	wc.chunk = wc.tiles
	if per := 16 * max(g.c, cout); per*wc.chunk > winoChunkFloats {
		wc.chunk = max(winoChunkFloats/per/32*32, 32)
	}
	return wc
}

// winoPad pads the stride between the 16 matrices of V and of M by one
// cache line. Unpadded, channels x tiles is often a multiple of 4 KiB
// (64 x 784 floats at 56x56), and the 16 streams the transforms read or
// write at once fall in one L1 set: the padding made the 56x56 layer 2x
// faster (BenchmarkConv).
const winoPad = 16

// strides are the floats between consecutive matrices of V and of M for
// chunks of np tiles.
func (wc *winoConv) strides(np int) (vs, ms int) {
	return wc.g.c*np + winoPad, wc.cout*np + winoPad
}

// bufSizes are the floats of the V and M scratch buffers.
func (wc *winoConv) bufSizes() (v, m int) {
	vs, ms := wc.strides(wc.chunk)
	return 16 * vs, 16 * ms
}

// run computes dst [cout, n, oh, ow] from in [cin, n, h, w] with the
// epilogue (bias, residual as dst's layout, ReLU), using v and m as scratch.
func (wc *winoConv) run(dst, in, v, m []float32) {
	for p0 := 0; p0 < wc.tiles; p0 += wc.chunk {
		np := min(wc.chunk, wc.tiles-p0)
		cin, cout := wc.g.c, wc.cout
		parallelFor(cin, 4, func(lo, hi int) {
			sc := winoScratches.Get().(*winoScratch)
			sc.planeOf = 0
			for c := lo; c < hi; c++ {
				wc.input(v, in, c, p0, np, sc)
			}
			winoScratches.Put(sc)
		})
		vs, ms := wc.strides(np)
		for x := range 16 {
			wc.cs[x], wc.bs[x] = m[x*ms:x*ms+cout*np], v[x*vs:x*vs+cin*np]
		}
		gemm.MulMany(wc.cs[:], wc.w.u[:], wc.bs[:], np)
		parallelFor(cout, 4, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				wc.output(dst, m, k, p0, np)
			}
		})
	}
}

var winoScratches = sync.Pool{New: func() any { return new(winoScratch) }}

// winoScratch is one worker's rows for the input transform.
type winoScratch struct {
	rows []float32 // four zero-padded input rows
	eo   []float32 // their even and odd columns, for gemm.WinoInput
	// plane holds the even and the odd columns of every zero-padded row of
	// one input plane, for gemm.WinoInput: padded row R's at 2R*ws and
	// (2R+1)*ws, so a tile row's eight arrays are consecutive. Each input
	// row is split once, not once per tile row that reads it.
	plane   []float32
	planeOf int // the plane plane holds, (c*n+b)+1; 0: none
}

// splitPlane fills sc.plane with the even and odd columns of the padded
// rows of input plane src (h x w), each half ws floats long.
func (wc *winoConv) splitPlane(sc *winoScratch, src []float32, ws int) {
	g := wc.g
	prows := 2*wc.th + 2
	if need := 2*prows*ws + 16; len(sc.plane) < need {
		sc.plane = make([]float32, need)
	}
	for r := range prows {
		e, o := sc.plane[2*r*ws:(2*r+1)*ws], sc.plane[(2*r+1)*ws:(2*r+2)*ws]
		iy := r - g.pt
		if iy < 0 || iy >= g.h {
			clear(e)
			clear(o)
			continue
		}
		row := src[iy*g.w : (iy+1)*g.w]
		for t := range e {
			x0, x1 := 2*t-g.pl, 2*t+1-g.pl
			e[t], o[t] = 0, 0
			if x0 >= 0 && x0 < g.w {
				e[t] = row[x0]
			}
			if x1 >= 0 && x1 < g.w {
				o[t] = row[x1]
			}
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
			if sc.planeOf != c*wc.n+b+1 {
				wc.splitPlane(sc, plane, ws)
				sc.planeOf = c*wc.n + b + 1
			}
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
	ohw := g.oh * g.ow
	var y [4]float32
	bt, tx := p0/wc.tw, p0%wc.tw
	for q := 0; q < np; bt, tx = bt+1, 0 {
		b, ty := bt/wc.th, bt%wc.th
		plane := dst[(k*wc.n+b)*ohw : (k*wc.n+b+1)*ohw]
		var res []float32
		if wc.res != nil {
			res = wc.res[(k*wc.n+b)*ohw : (k*wc.n+b+1)*ohw]
		}
		oy := 2 * ty
		rows := min(2, g.oh-oy)
		for ; tx < wc.tw && q < np; tx, q = tx+1, q+1 {
			if full := g.ow / 2; winoVec && res == nil && rows == 2 && tx < full {
				count := min(full-tx, np-q)
				i := oy*g.ow + 2*tx
				if gemm.WinoOutput(src[q:], knp, count, plane[i:], plane[i+g.ow:], bias, wc.relu) {
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

// relu0 is max(v, 0) that keeps NaN, like the GEMM epilogue.
func relu0(v float32) float32 {
	if v < 0 {
		return 0
	}
	return v
}
