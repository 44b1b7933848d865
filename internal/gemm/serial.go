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
	mulSerial(c, a, b, n, Epilogue{})
}

// mulSerial is MulSerial and MulSerialEpilogue after their checks, and
// MulMany's product.
func mulSerial(c []float32, a *PackedA, b []float32, n int, ep Epilogue) {
	j, _, _ := newJob(c[:a.m*n], a, b[:a.k*n], nil, n, ep)
	j.run()
}

// forProduct checks that ep's bias and residual cover an m x n product
// (it panics, naming the function who, where they do not) and returns ep
// with them cut to it.
func (ep Epilogue) forProduct(who string, m, n int) Epilogue {
	switch {
	case ep.Bias != nil && len(ep.Bias) < m:
		panic(fmt.Sprintf("gemm: %s: len(bias)=%d < m=%d", who, len(ep.Bias), m))
	case ep.Residual != nil && len(ep.Residual) < m*n:
		panic(fmt.Sprintf("gemm: %s: len(residual)=%d < m*n=%d", who, len(ep.Residual), m*n))
	}
	if ep.Bias != nil {
		ep.Bias = ep.Bias[:m]
	}
	if ep.Residual != nil {
		ep.Residual = ep.Residual[:m*n]
	}
	return ep
}

// Cols is how many columns the kernel computes for a product of n columns
// with a: n rounded up to whole micro-tiles, the last one narrower where
// the kernel has a narrow tile, and the last one to four columns by its
// gemv where it has one (see newJob; on one thread, as MulSerial runs):
// the waste a caller that picks n (such as a Winograd layer its tiles per
// block) can compare.
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
