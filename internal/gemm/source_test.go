package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// sliceSource serves a row-major B through the Source interface.
type sliceSource struct {
	b []float32
	n int
}

func (s sliceSource) Rows(dst []float32, r0, kc, j0, nc int) {
	for p := range kc {
		copy(dst[p*nc:(p+1)*nc], s.b[(r0+p)*s.n+j0:])
	}
}

// TestMulSource checks that B from a Source gives bit-identical results to
// the same B in memory, on every kernel: the packing is the same. With two
// threads or more, the last two shapes split M, where a Source's B is
// packed once for both shares (shared.go), with and without gemv columns.
func TestMulSource(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	rng := rand.New(rand.NewPCG(3, 5))
	for _, sz := range [][3]int{{1, 1, 1}, {7, 13, 5}, {64, 147, 3137}, {33, 300, 49}, {12, 600, 1100}, {100, 1, 17}, {500, 1100, 33}, {600, 700, 196}} {
		m, k, n := sz[0], sz[1], sz[2]
		t.Run(fmt.Sprintf("%dx%dx%d", m, k, n), func(t *testing.T) {
			a, b := randSlice(rng, m*k), randSlice(rng, k*n)
			bias, res := randSlice(rng, m), randSlice(rng, m*n)
			pa := PackA(a, m, k)
			ep := Epilogue{Bias: bias, Residual: res, ReLU: true}
			want, got := make([]float32, m*n), make([]float32, m*n)
			Mul(want, pa, b, n, ep)
			MulSource(got, pa, sliceSource{b, n}, n, ep)
			for i := range want {
				if want[i] != got[i] {
					t.Fatalf("element %d: %v from a Source, %v from memory", i, got[i], want[i])
				}
			}
		})
	}
}
