//go:build !purego

package gemm

import (
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestWino4AVX2 checks the AVX2 F(4x4) Winograd transforms against the
// AVX-512 ones (which internal/infer's TestWino4Kernels checks against the
// float64 definitions): the same operations in the same order, so the
// results must be identical, for 1 to 40 tiles (tails of every length,
// several passes), with nothing written past the tiles.
func TestWino4AVX2(t *testing.T) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA || !cpu.X86.HasAVX512F || !cpu.X86.HasBMI2 {
		t.Skip("needs AVX2 and AVX-512 to compare them (TestWino4Kernels in internal/infer checks the active kernels)")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	nan := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(math.NaN())
		}
		return s
	}
	same := func(a, b []float32) bool {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return false
			}
		}
		return true
	}
	for n := 1; n <= 40; n++ {
		ws, stride := n+17, n+5
		rows := rnd(24*ws + 16)
		a, b := nan(36*stride+16), nan(36*stride+16)
		winoIn4AVX512(&rows[0], ws, &a[0], stride, n)
		winoIn4AVX2(&rows[0], ws, &b[0], stride, n)
		if !same(a, b) {
			t.Fatalf("n=%d: input transforms differ", n)
		}
		for _, relu := range []bool{false, true} {
			m := rnd(36*stride + 16)
			ldo := 4*n + 3
			bias := float32(-0.125)
			a, b := nan(4*ldo+16), nan(4*ldo+16)
			winoOut4AVX512(&m[0], stride, n, &a[0], ldo, &bias, relu)
			winoOut4AVX2(&m[0], stride, n, &b[0], ldo, &bias, relu)
			if !same(a, b) {
				t.Fatalf("n=%d relu=%v: output transforms differ", n, relu)
			}
			for r := range 4 {
				for q := 4 * n; q < ldo; q++ {
					if !math.IsNaN(float64(b[r*ldo+q])) {
						t.Fatalf("n=%d: AVX2 output wrote row %d column %d", n, r, q)
					}
				}
			}
		}
	}
}
