package gemm

import "fmt"

// MulSerial computes c = a*b (no epilogue), B k x n row-major and C m x n,
// as Mul would, but on the calling goroutine only: for work that is
// already split between threads, such as the tile blocks of a Winograd
// layer, run inside one Parallel. It panics on impossible shapes, as Mul
// does. It does not allocate after warm-up.
func MulSerial(c []float32, a *PackedA, b []float32, n int) {
	if n < 1 || len(b) < a.k*n || len(c) < a.m*n {
		panic(fmt.Sprintf("gemm: MulSerial: bad shapes m=%d k=%d n=%d len(b)=%d len(c)=%d", a.m, a.k, n, len(b), len(c)))
	}
	mulSerial(c, a, b, n)
}

// mulSerial is MulSerial after its checks, and MulMany's product.
func mulSerial(c []float32, a *PackedA, b []float32, n int) {
	j, _, _ := newJob(c[:a.m*n], a, b[:a.k*n], nil, n, Epilogue{})
	j.run()
}

// Cols is how many columns the kernel computes for a product of n columns
// with a: n rounded up to whole micro-tiles, the last one narrower where
// the kernel has a narrow tile, and the last one or two columns by its
// gemv where it has one (see newJob): the waste a caller that picks n
// (such as a Winograd layer its tiles per block) can compare.
func (p *PackedA) Cols(n int) int {
	j, _, _ := newJob(nil, p, nil, nil, n, Epilogue{})
	cols := n - j.rem
	_, nc := j.blocking()
	total := j.rem
	for jc := 0; jc < cols; jc += nc {
		cur := min(nc, cols-jc)
		full, tk := j.tail(cur)
		total += full
		if cur > full {
			total += tk.nr
		}
	}
	return total
}
