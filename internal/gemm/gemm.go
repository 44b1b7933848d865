// Package gemm multiplies float32 matrices for the engine's convolutions:
// C = act(A*B + bias + residual), with A (the weights) packed once at load
// and B (the activations, or their im2col) packed per call into blocks that
// fit the caches. The micro-kernel is AVX-512 or AVX2+FMA assembly on amd64
// (chosen at start from the CPU's features) and pure Go everywhere else.
package gemm

import "fmt"

//go:generate sh -c "cd ../../_asm && go run . -out ../internal/gemm/gemm_amd64.s -stubs ../internal/gemm/kernels_amd64.go -pkg gemm"

// Blocking. A B block of kc x nc floats is packed per worker (1 MiB at
// most, half of it for a thin B: this CPU has 1 MiB of L2 per core); one A
// micro-panel (mr x kc, 8-24 KiB) stays in L1 while the kernel walks the B
// block's nr-wide micro-panels.
const (
	kcMax = 256
	ncMax = 1024
)

// kcThin is the most rows of B in one k block when B has at most
// thinCols columns: 512, not 256, halves the passes over C of ResNet-50's
// 1x1 convolutions with k = 1024 and 2048 at n = 49 and 196, 2-4% faster
// (BenchmarkAB1x1/kc512, BENCHMARKS.md issue 12 session 6), with the
// block still in half of L2. At n = 784 the 1.6 MiB block measured 3-7%
// slower in the model. A variable for the benchmarks that compare.
var kcThin = 512

const thinCols = 256

// PackedA is an m x k row-major matrix packed once into the micro-kernel's
// panel layout: ceil(m/MR) panels, each k x MR (column p of the panel holds
// rows i..i+MR-1 of column p of A), rows past m zero.
type PackedA struct {
	m, k int
	kern *kernel
	data []float32
}

// PackA packs the row-major m x k matrix a (lda = k). a is not retained.
// It panics if m or k is not positive or a is shorter than m*k.
func PackA(a []float32, m, k int) *PackedA {
	if m <= 0 || k <= 0 || len(a) < m*k {
		panic(fmt.Sprintf("gemm: PackA: bad shape m=%d k=%d len=%d", m, k, len(a)))
	}
	return packA(a, m, k, active.forRows(m))
}

// packA packs a for the given kernel.
func packA(a []float32, m, k int, kern *kernel) *PackedA {
	mr := kern.mr
	panels := (m + mr - 1) / mr
	data := make([]float32, panels*mr*k)
	for q := range panels {
		dst := data[q*mr*k : (q+1)*mr*k]
		for i := range min(mr, m-q*mr) {
			row := a[(q*mr+i)*k : (q*mr+i+1)*k]
			for p, v := range row {
				dst[p*mr+i] = v
			}
		}
	}
	return &PackedA{m: m, k: k, kern: kern, data: data}
}

// M is the number of rows of A (and C).
func (p *PackedA) M() int { return p.m }

// K is the number of columns of A (rows of B).
func (p *PackedA) K() int { return p.k }

// Mul computes C = A*B with the epilogue. B is k x n row-major contiguous
// (ldb = n); C is m x n row-major contiguous (ldc = n). C must not alias B;
// Residual may be C itself (the same slice), or must not overlap it. The
// work is split across up to runtime.GOMAXPROCS(0) threads (see Share),
// in N in nr-wide strips, a few per thread, or in M in mr-row panels, one
// per thread, when n is small. Mul is safe for
// concurrent use, also with the same PackedA; after warm-up it does not
// allocate.
//
// Mul panics on impossible shapes (n < 1, slices too short for m, k, n):
// those are programming errors of the caller, not user input.
func Mul(c []float32, a *PackedA, b []float32, n int, ep Epilogue) {
	if n > 0 && len(b) < a.k*n {
		panic(fmt.Sprintf("gemm: Mul: len(b)=%d < k*n=%d", len(b), a.k*n))
	}
	if n > 0 {
		b = b[:a.k*n]
	}
	mul(c, a, b, nil, n, ep)
}

// Source produces B on demand, so B need not exist in memory: an implicit
// im2col. Rows writes B[r0:r0+kc, j0:j0+nc] into dst as a kc x nc row-major
// block (ld = nc). Rows is called concurrently from Mul's workers, for
// disjoint or identical blocks, and must not keep dst.
type Source interface {
	Rows(dst []float32, r0, kc, j0, nc int)
}

// MulSource is Mul with B (k x n) given by src. Each block of B is produced
// right before it is packed, while it is in cache, instead of being written
// to memory whole and read back.
func MulSource(c []float32, a *PackedA, src Source, n int, ep Epilogue) {
	mul(c, a, nil, src, n, ep)
}
