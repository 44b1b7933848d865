package gemm

import "fmt"

// PanelRows is how many rows of A one packed panel holds: RowBlock's rows
// start at a multiple of it.
func (p *PackedA) PanelRows() int { return p.kern.mr }

// RowBlock returns rows [i0, i1) of p as a matrix of its own that shares
// p's packed data (no copy), for a caller that splits the rows of one
// product between its own shares, such as the channel bands of a fused
// expand-and-depthwise block. i0 must be a multiple of PanelRows; it
// panics otherwise or if the range is empty or past p's rows.
func (p *PackedA) RowBlock(i0, i1 int) *PackedA {
	mr := p.kern.mr
	if i0 < 0 || i0 >= i1 || i1 > p.m || i0%mr != 0 {
		panic(fmt.Sprintf("gemm: RowBlock(%d, %d) of %d rows in panels of %d", i0, i1, p.m, mr))
	}
	q0, q1 := i0/mr, (i1+mr-1)/mr
	return &PackedA{m: i1 - i0, k: p.k, kern: p.kern, data: p.data[q0*mr*p.k : q1*mr*p.k]}
}

// MulSerialEpilogue is MulSerial with the epilogue ep (see Mul): on the
// calling goroutine only. It panics on impossible shapes, as Mul does, and
// does not allocate after warm-up.
func MulSerialEpilogue(c []float32, a *PackedA, b []float32, n int, ep Epilogue) {
	if n < 1 || len(b) < a.k*n || len(c) < a.m*n {
		panic(fmt.Sprintf("gemm: MulSerialEpilogue: bad shapes m=%d k=%d n=%d len(b)=%d len(c)=%d", a.m, a.k, n, len(b), len(c)))
	}
	mulSerial(c, a, b, n, ep.forProduct("MulSerialEpilogue", a.m, n))
}

// PackB packs B (k x n row-major, k = a.K()) once for MulPacked with a and
// its row blocks, on the calling goroutine, into *buf (grown when short),
// so that the callers' shares of the rows do not each pack all of B. It
// reports false, and packs nothing, where Mul would not pack B either
// (few rows of B, read in place, or one column) or where B is wider than
// one block of columns; MulSerialEpilogue is the way then.
func PackB(buf *[]float32, a *PackedA, b []float32, n int) bool {
	if n < 1 || len(b) < a.k*n {
		panic(fmt.Sprintf("gemm: PackB: bad shapes k=%d n=%d len(b)=%d", a.k, n, len(b)))
	}
	j, _, _ := newJob(nil, a, b[:a.k*n], nil, n, Epilogue{})
	if j.direct(a.k) || !j.canShare() {
		return false
	}
	if need := a.k*j.sharedWidth(n-j.rem) + j.rem*a.k; len(*buf) < need {
		*buf = make([]float32, need)
	}
	j.shared = *buf
	kcStep, _ := j.blocking()
	j.packBlocks(0, ceilDiv(a.k, kcStep))
	return true
}

// MulPacked is MulSerialEpilogue with B packed by PackB for a, or for the
// matrix a is a RowBlock of, at the same n.
func MulPacked(c []float32, a *PackedA, packed []float32, n int, ep Epilogue) {
	if n < 1 || len(c) < a.m*n {
		panic(fmt.Sprintf("gemm: MulPacked: bad shapes m=%d n=%d len(c)=%d", a.m, n, len(c)))
	}
	j, _, _ := newJob(c[:a.m*n], a, nil, nil, n, ep.forProduct("MulPacked", a.m, n))
	if need := a.k*j.sharedWidth(n-j.rem) + j.rem*a.k; len(packed) < need {
		panic(fmt.Sprintf("gemm: MulPacked: packed B of %d floats, want %d", len(packed), need))
	}
	j.shared = packed
	j.run()
}
