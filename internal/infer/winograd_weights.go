package infer

import "github.com/mlserve/mlserve/internal/gemm"

// winoWeights are a 3x3 convolution's weights transformed for F(mxm, 3x3):
// u[ξ] is the cout x cin matrix of (G g G^T)[ξ], packed for the GEMM, for
// the (m+2)^2 positions ξ of the transformed tile.
type winoWeights struct {
	m int // output tile side: 2 or 4
	u []*gemm.PackedA
}

// alpha is the side of the input and transformed tiles, m+2.
func (ww *winoWeights) alpha() int { return ww.m + 2 }

// newWinoWeights transforms w [cout][cin][3][3] for F(mxm, 3x3), m 2 or 4
// (in float64, rounded once).
func newWinoWeights(w []float32, cout, cin, m int) *winoWeights {
	kernel := winoKernel2
	if m == 4 {
		kernel = winoKernel4
	}
	a2 := (m + 2) * (m + 2)
	u := make([][]float32, a2)
	for x := range u {
		u[x] = make([]float32, cout*cin)
	}
	var t [36]float64
	for k := range cout {
		for c := range cin {
			kernel(w[(k*cin+c)*9:(k*cin+c)*9+9], t[:a2])
			for x := range u {
				u[x][k*cin+c] = float32(t[x])
			}
		}
	}
	ww := &winoWeights{m: m, u: make([]*gemm.PackedA, a2)}
	for x := range u {
		ww.u[x] = gemm.PackA(u[x], cout, cin)
		u[x] = nil // the packed copy replaces it before the next is made
	}
	return ww
}

// winoKernel2 sets t (4x4, row-major) to F(2x2, 3x3)'s G g G^T for one 3x3
// kernel g (row-major).
func winoKernel2(g []float32, t []float64) {
	var gg [4][3]float64 // G g
	for j := range 3 {
		a, b, c := float64(g[j]), float64(g[3+j]), float64(g[6+j])
		gg[0][j], gg[1][j], gg[2][j], gg[3][j] = a, (a+b+c)/2, (a-b+c)/2, c
	}
	for i := range 4 {
		a, b, c := gg[i][0], gg[i][1], gg[i][2]
		t[i*4], t[i*4+1], t[i*4+2], t[i*4+3] = a, (a+b+c)/2, (a-b+c)/2, c
	}
}

// winoG4 is F(4x4, 3x3)'s G (see winograd4.go).
var winoG4 = [6][3]float64{
	{1, 0, 0},
	{1.0 / 3, 1.0 / 3, 1.0 / 3},
	{-1.0 / 3, 1.0 / 3, -1.0 / 3},
	{-16.0 / 15, -8.0 / 15, -4.0 / 15},
	{1.0 / 15, -2.0 / 15, 4.0 / 15},
	{0, 0, 1},
}

// winoKernel4 sets t (6x6, row-major) to F(4x4, 3x3)'s G g G^T for one 3x3
// kernel g (row-major).
func winoKernel4(g []float32, t []float64) {
	var gg [6][3]float64 // G g
	for i := range 6 {
		for j := range 3 {
			for k := range 3 {
				gg[i][j] += winoG4[i][k] * float64(g[3*k+j])
			}
		}
	}
	for i := range 6 {
		for j := range 6 {
			s := 0.0
			for k := range 3 {
				s += gg[i][k] * winoG4[j][k]
			}
			t[6*i+j] = s
		}
	}
}
