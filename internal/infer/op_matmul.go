package infer

import "fmt"

// setupMatMul plans a batched MatMul of two activations [..., m, k] x [...,
// k, n] with equal batch axes (attention: queries x keys, weights x
// values). The batch axes are outermost in every layout (a 4-D one swaps
// its first two, alike in A, B and the result), so each matrix is
// contiguous.
func (o *execOp) setupMatMul(ins []*value) error {
	a, b := ins[0], ins[1]
	r := len(a.shape)
	if r < 2 || len(b.shape) != r {
		return fmt.Errorf("MatMul of shapes %v and %v is not supported (want equal ranks of at least 2)", a.shape, b.shape)
	}
	if !equalShape(a.shape[:r-2], b.shape[:r-2]) || a.shape[r-1] != b.shape[r-2] {
		return fmt.Errorf("MatMul of shapes %v and %v", a.shape, b.shape)
	}
	out := append(append([]int(nil), a.shape[:r-1]...), b.shape[r-1])
	o.ins = ins
	o.out = &value{shape: out, buf: &buffer{size: prod(out)}}
	o.flops = 2 * float64(prod(out)) * float64(a.shape[r-1])
	return nil
}

// runMatMul computes every matrix product of the batch.
func (o *execOp) runMatMul(dst []float32) {
	as, bs := o.ins[0].shape, o.ins[1].shape
	r := len(as)
	m, k, n := as[r-2], as[r-1], bs[r-1]
	a, b := o.ins[0].buf.data, o.ins[1].buf.data
	parallelFor(prod(as[:r-2])*m, max(1, 4096/(k*n)), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			bi := row / m
			c := dst[row*n : (row+1)*n]
			clear(c)
			bm := b[bi*k*n : (bi+1)*k*n]
			for p, av := range a[row*k : (row+1)*k] {
				for j, bv := range bm[p*n : (p+1)*n] {
					c[j] += av * bv
				}
			}
		}
	})
}
