package infer

import "github.com/mlserve/mlserve/internal/gemm"

// Winograd F(4x4, 3x3): each 4x4 block of output is computed from the 6x6
// input patch d around it as Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A, 36
// multiplications per tile and channel pair where the direct convolution
// has 144 (F(2x2): 16 for 36). The layer becomes 36 GEMMs, one per
// position ξ = 6*row + column of the transformed tile. The matrices are
// the Cook-Toom ones for the interpolation points 0, 1, -1, 1/2, -2 and
// infinity, derived exactly in rationals (G, with thirds and fifteenths,
// is in winograd_weights.go as winoG4, applied in float64 at load). Lavin
// and Gray's 0, ±1, ±2 give B^T = [4 0 -5 0 1 0; ...] and A^T rows up to
// 8; measured on ResNet-50's layer sizes (TestWinogradErrorBySize, Go
// transforms), the 1/2 points had 1.5-2.4x lower worst error relative to
// sum |w*x| (0.67-1.1e-6 against 0.99-2.5e-6) and 1.25-1.55x lower
// relative L2 error, at no measurable cost in speed (BENCHMARKS.md).
//
//	B^T = | 1  -3/2  -2    3/2  1    0 |   A^T = | 1  1  1  1    1  0 |
//	      | 0  -1     1/2  5/2  1    0 |         | 0  1 -1  1/2 -2  0 |
//	      | 0   1    -5/2  1/2  1    0 |         | 0  1  1  1/4  4  0 |
//	      | 0  -2    -1    2    1    0 |         | 0  1 -1  1/8 -8  1 |
//	      | 0   1/2  -1   -1/2  1    0 |
//	      | 0   1    -3/2 -2    3/2  1 |
//
// The vector kernels (gemm.WinoInput4, WinoOutput4; _asm/winograd4.go) use
// the same matrices.
var (
	winoBT4 = [6][6]float32{
		{1, -1.5, -2, 1.5, 1, 0},
		{0, -1, 0.5, 2.5, 1, 0},
		{0, 1, -2.5, 0.5, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 0.5, -1, -0.5, 1, 0},
		{0, 1, -1.5, -2, 1.5, 1},
	}
	winoAT4 = [4][6]float32{
		{1, 1, 1, 1, 1, 0},
		{0, 1, -1, 0.5, -2, 0},
		{0, 1, 1, 0.25, 4, 0},
		{0, 1, -1, 0.125, -8, 1},
	}
)

// input4 writes V[ξ][c][p-p0] = (B^T d B)[ξ] for the tiles p0 <= p < p0+np
// of channel c (F(4x4)).
func (wc *winoConv) input4(v, in []float32, c, p0, np int, sc *winoScratch) {
	cnp, _ := wc.strides(np)
	ws := wc.tw + 1 + 16 // a phase of a padded row, with room for a vector past it
	out := v[c*np:]
	bt, tx := p0/wc.tw, p0%wc.tw
	for q := 0; q < np; bt, tx = bt+1, 0 {
		b, ty := bt/wc.th, bt%wc.th
		wc.planeRows(sc, in, c, b, ty, p0, np, ws)
		count := min(wc.tw-tx, np-q)
		rows := sc.plane[16*ty*ws:] // the tile row's 6 padded rows, 4 phases each
		if winoVec && gemm.WinoInput4(rows[tx:], ws, out[q:], cnp, count) {
			q += count
			continue
		}
		for ; count > 0; count, tx, q = count-1, tx+1, q+1 {
			var d [6][6]float32
			for i := range 6 {
				for j := range 6 {
					d[i][j] = rows[(4*i+j%4)*ws+tx+j/4]
				}
			}
			winoInputTile4(&d, out[q:], cnp)
		}
	}
}

// winoInputTile4 writes (B^T d B)[ξ] to o[ξ*stride].
func winoInputTile4(d *[6][6]float32, o []float32, stride int) {
	_ = o[35*stride]
	var e [6][6]float32 // e[k][l] = (d B)[k][l]
	for k := range 6 {
		for l := range 6 {
			s := float32(0)
			for j := range 6 {
				s += winoBT4[l][j] * d[k][j]
			}
			e[k][l] = s
		}
	}
	for i := range 6 {
		for l := range 6 {
			s := float32(0)
			for k := range 6 {
				s += winoBT4[i][k] * e[k][l]
			}
			o[(6*i+l)*stride] = s
		}
	}
}

// output4 writes the 4x4 outputs Y = A^T M A (+ bias, residual, ReLU) of
// the tiles p0 <= p < p0+np for output channel k (F(4x4)).
func (wc *winoConv) output4(dst, m []float32, k, p0, np int) {
	g := wc.g
	_, knp := wc.strides(np)
	src := m[k*np:]
	bias := wc.bias[k]
	bt, tx := p0/wc.tw, p0%wc.tw
	for q := 0; q < np; bt, tx = bt+1, 0 {
		b, ty := bt/wc.th, bt%wc.th
		plane, res := wc.outPlane(dst, k, b)
		oy := 4 * ty
		rows := min(4, g.oh-oy)
		count := min(wc.tw-tx, np-q)
		if full := g.ow / 4; winoVec && res == nil && rows == 4 && tx < full {
			nv := min(full-tx, count)
			i := oy*g.ow + 4*tx
			if gemm.WinoOutput4(src[q:], knp, nv, plane[i:], g.ow, &wc.bias[k], wc.relu) {
				tx, q, count = tx+nv, q+nv, count-nv
			}
		}
		for ; count > 0; count, tx, q = count-1, tx+1, q+1 {
			y := winoOutputTile4(src[q:], knp)
			ox := 4 * tx
			cols := min(4, g.ow-ox)
			for a := range rows {
				i := (oy+a)*g.ow + ox
				for bb := range cols {
					val := y[a][bb] + bias
					if res != nil {
						val += res[i+bb]
					}
					if wc.relu {
						val = relu0(val)
					}
					plane[i+bb] = val
				}
			}
		}
	}
}

// winoOutputTile4 returns A^T M A for the tile whose M[ξ] is s[ξ*stride].
func winoOutputTile4(s []float32, stride int) (y [4][4]float32) {
	_ = s[35*stride]
	var f [6][4]float32 // f[i][c] = (M A)[i][c]
	for i := range 6 {
		for c := range 4 {
			t := float32(0)
			for j := range 6 {
				t += s[(6*i+j)*stride] * winoAT4[c][j]
			}
			f[i][c] = t
		}
	}
	for r := range 4 {
		for c := range 4 {
			t := float32(0)
			for i := range 6 {
				t += winoAT4[r][i] * f[i][c]
			}
			y[r][c] = t
		}
	}
	return y
}
