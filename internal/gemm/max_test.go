package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxInto checks the active MaxInto kernel against the definition for
// every length up to 100 and unaligned offsets, with NaNs, infinities and
// signed zeros, and guard bands around dst.
func TestMaxInto(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	nan := float32(math.NaN())
	specials := []float32{nan, float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	val := func() float32 {
		if rng.IntN(8) == 0 {
			return specials[rng.IntN(len(specials))]
		}
		return float32(rng.NormFloat64())
	}
	for n := 0; n <= 100; n++ {
		for _, off := range []int{0, 1, 3} {
			buf := make([]float32, n+off+2*guard)
			for i := range buf {
				buf[i] = sentinel
			}
			dst := buf[guard+off : guard+off+n]
			src := make([]float32, n+off)[off:]
			want := make([]float32, n)
			for i := range dst {
				dst[i], src[i] = val(), val()
				// Definition: dst if dst > src, else src (so src when either is NaN).
				want[i] = src[i]
				if dst[i] > src[i] {
					want[i] = dst[i]
				}
			}
			MaxInto(dst, src)
			for i := range dst {
				if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d off=%d: dst[%d] = %v, want %v", n, off, i, dst[i], want[i])
				}
			}
			for i := range guard {
				if math.Float32bits(buf[i]) != math.Float32bits(sentinel) || math.Float32bits(buf[len(buf)-1-i]) != math.Float32bits(sentinel) {
					t.Fatalf("n=%d off=%d: guard band written", n, off)
				}
			}
		}
	}
}

// TestMulMany checks MulMany against one Mul per product, bit for bit (the
// same kernel and blocking), with n = 1 (the gemv) and small and wide n.
func TestMulMany(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 5, 16, 17, 49, 300} {
		const count = 7
		var as []*PackedA
		var bs, cs, want [][]float32
		for i := range count {
			m, k := 1+rng.IntN(40), 1+rng.IntN(300)
			as = append(as, PackA(randSlice(rng, m*k), m, k))
			bs = append(bs, randSlice(rng, k*n))
			cs = append(cs, make([]float32, m*n))
			want = append(want, make([]float32, m*n))
			Mul(want[i], as[i], bs[i], n, Epilogue{})
		}
		MulMany(cs, as, bs, n)
		for i := range cs {
			for j := range cs[i] {
				if math.Float32bits(cs[i][j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("n=%d product %d: c[%d] = %v, Mul gives %v", n, i, j, cs[i][j], want[i][j])
				}
			}
		}
	}
}
