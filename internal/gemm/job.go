package gemm

import (
	"fmt"
	"sync"
)

func mul(c []float32, a *PackedA, b []float32, src Source, n int, ep Epilogue) {
	m, k := a.m, a.k
	switch {
	case n <= 0:
		panic(fmt.Sprintf("gemm: Mul: n=%d", n))
	case b == nil && src == nil:
		panic("gemm: Mul: no B")
	case len(c) < m*n:
		panic(fmt.Sprintf("gemm: Mul: len(c)=%d < m*n=%d", len(c), m*n))
	}
	c = c[:m*n]
	ep = ep.forProduct("Mul", m, n)
	th := threads()
	// Small products are not worth waking a worker (~1-2 µs). That holds
	// for the gemv of a squeeze-and-excite projection too (1152 x 48:
	// BenchmarkSplitAB, BENCHMARKS.md issue 16 session 5).
	if 2*m*n*k < 1<<18 {
		th = 1
	}
	j, mt, nt := newJobRem(c, a, b, src, n, ep, remFor(th))
	if th <= 1 {
		j.run()
		return
	}
	p := j.planSplit(th, mt, nt, 2*m*n*k)
	if p.parts <= 1 {
		j.run()
		return
	}
	if p.shared {
		// B made (an implicit im2col) or packed once, in parallel, for
		// every share, instead of whole by each (BenchmarkConv, 3x3
		// stride 2 at batch 1, 2 threads: 8-21% faster; BenchmarkMulSmall,
		// the SE-scaled projections at 7x7 and 14x14: see BENCHMARKS.md,
		// issue 16, session 5).
		defer sharedPool.Put(j.packShared(th))
	}
	total := mt
	if p.byN {
		total = nt
	}
	g := groups.Get().(*group)
	for w := range p.parts {
		lo, hi := cut(total, p.parts, th, 1, w), cut(total, p.parts, th, 1, w+1)
		t := j
		if p.byN {
			t.m0, t.m1, t.n0, t.n1 = 0, mt, lo, hi
		} else {
			t.m0, t.m1, t.n0, t.n1 = lo, hi, 0, nt
		}
		g.tasks[w].j, g.tasks[w].own = t, p.own
	}
	g.run(p.parts, th-1)
}

// fineM is whether shares of M that need no B of their own are cut finer
// than one per thread (a variable for the benchmarks that compare both).
var fineM = true

// minRowsM is the fewest rows of A a finer share of M computes.
const minRowsM = 64

// finer is how many shares of units to cut work of flops into where cutting
// costs only scheduling: a few per thread, each of at least 1 MFLOP, but at
// least one per thread.
func finer(units, th, flops int) int {
	parts := min(chunksPerThread*th, units, maxParts)
	if flops/max(parts, 1) < 1<<20 {
		parts = min(parts, max(th, flops>>20))
	}
	return parts
}

// newJob sets up C = A*B for the whole of C, and returns the number of A
// panels and of B micro-panels (the units jobs split).
func newJob(c []float32, a *PackedA, b []float32, src Source, n int, ep Epilogue) (j job, mt, nt int) {
	return newJobRem(c, a, b, src, n, ep, remMax)
}

// newJobRem is newJob with at most maxRem columns for the gemv.
func newJobRem(c []float32, a *PackedA, b []float32, src Source, n int, ep Epilogue, maxRem int) (j job, mt, nt int) {
	kern := a.kern
	vec := n == 1 && b != nil && kern.gemv != nil
	if kern.narrow != nil && n <= kern.narrow.nr && !vec {
		kern = kern.narrow
	}
	j = job{c: c, a: a, kern: kern, b: b, src: src, n: n, ep: ep, vec: vec}
	// Up to maxRem columns past a multiple of 16 (n = 49 and 196: ResNet's
	// last stages at batch 1) are computed with the gemv, one FMA per 12
	// rows (8 for the 8x48 tile's gemv), instead of in a 16-wide tile, 12
	// FMAs per 12 rows (8 per 8 rows): four columns of a 16-wide tile
	// waste three quarters of it.
	if r := n % 16; !vec && a.kern.gemv != nil && r <= maxRem && n > r {
		j.rem = r
	}
	mt = ceilDiv(a.m, kern.mr)
	nt = ceilDiv(n-j.rem, kern.nr)
	j.m1, j.n1 = mt, nt
	return j, mt, nt
}

// remMax is the most columns computed with the gemv on one thread (see
// newJob; 4, not 2: 2-8% faster at n = 196, BenchmarkAB1x1/rem4,
// BENCHMARKS.md issue 12 session 6). A variable for the benchmarks that
// compare.
var remMax = 4

// remFor is the most columns computed with the gemv for a product on th
// threads: 2 on more than one, where n = 196 as four 48-wide micro-panels
// and 4 gemv columns splits into two uneven shares of N where five
// micro-panels split M, 1-9% slower on two threads (BenchmarkAB1x1/rem4
// -cpu 2).
func remFor(th int) int {
	if th > 1 {
		return min(remMax, 2)
	}
	return remMax
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// job is one worker's share of a Mul: A panels [m0, m1) times B
// micro-panels [n0, n1), in units of the kernel's mr and nr.
type job struct {
	c      []float32
	a      *PackedA
	kern   *kernel
	b      []float32
	src    Source // B on demand, when b is nil
	n      int
	ep     Epilogue
	m0, m1 int
	n0, n1 int
	vec    bool      // n = 1 with the kernel's gemv: A panels times the vector b
	rem    int       // the last rem columns are computed with the gemv (see mul)
	shared []float32 // B packed whole by packShared, or nil: the job packs its own
}

var (
	bufPool = sync.Pool{New: func() any { return new(workspace) }}
)

// workspace is one worker's packed-B buffer.
type workspace struct {
	b   []float32
	t   []float32   // one row of a block of B from a Source, before packing
	acc [16]float32 // one panel's results of a gemv
	x   []float32   // a column of B for the gemv
}

// oneStepFlags is the epilogue's flags (but the clamp) for a product
// computed in one step over all of k, as the gemv paths do.
func (j *job) oneStepFlags() int {
	var flags int
	if j.ep.Bias != nil {
		flags |= flagBias
	}
	if j.ep.Residual != nil {
		flags |= flagRes
	}
	if j.ep.ReLU {
		flags |= flagReLU
	}
	return flags
}

// runVec computes the job's share of C = A*b for n = 1: the gemv panel by
// panel, each panel's rows merged with the epilogue (vecEpilogue), then the
// activation once over the whole share, not per 12-row panel (a vector
// activation called on one 12-row column ran one vector per row: 3 GFLOP/s
// on EfficientNet-B0's 48 -> 1152 excite, BENCHMARKS.md issue 16 session 5).
func (j *job) runVec() {
	kern := j.kern
	mr, m, k := kern.mr, j.a.m, j.a.k
	flags := j.oneStepFlags() | j.clampFlag()
	ws := bufPool.Get().(*workspace)
	defer bufPool.Put(ws)
	acc := &ws.acc // a pooled array: one on the stack would escape through kern.gemv
	x := j.b[:k]
	for q := j.m0; q < j.m1; q++ {
		i0 := q * mr
		mrCur := min(mr, m-i0)
		kern.gemv(j.a.data[q*mr*k:(q+1)*mr*k], x, acc)
		j.vecEpilogue(acc[:mrCur], i0, flags)
	}
	lo, hi := j.m0*mr, min(j.m1*mr, m)
	if hi > lo {
		j.actAfter(kern, j.c[lo:hi], hi-lo, 1, hi-lo)
	}
}

// vecEpilogue writes c[i0+i] = acc[i] with the epilogue of flags (bias,
// residual, ReLU, clamp; one step over all of k) for i < len(acc). The
// residual may be C itself: each element is read before it is written.
func (j *job) vecEpilogue(acc []float32, i0, flags int) {
	c := j.c[i0 : i0+len(acc)]
	var bias, res []float32
	if flags&flagBias != 0 {
		bias = j.ep.Bias[i0 : i0+len(c)]
	}
	if flags&flagRes != 0 {
		res = j.ep.Residual[i0 : i0+len(c)]
	}
	relu, clamp := flags&flagReLU != 0, flags&flagClamp != 0
	lo, hi := j.ep.Act.Lo, j.ep.Act.Hi
	for i, v := range acc {
		if bias != nil {
			v += bias[i]
		}
		if res != nil {
			v += res[i]
		}
		if relu && v < 0 {
			v = 0
		}
		if clamp {
			v = min(max(v, lo), hi)
		}
		c[i] = v
	}
}

// remCols gathers rows [pc, pc+kc) of the last j.rem columns of B (the
// gemv's) into ws.x, one column after the other, and returns them.
func (j *job) remCols(ws *workspace, pc, kc int) []float32 {
	k, cols := j.a.k, j.n-j.rem
	if len(ws.x) < j.rem*kc {
		ws.x = make([]float32, j.rem*kc)
	}
	x := ws.x[:j.rem*kc]
	for r := range j.rem {
		xr := x[r*kc : (r+1)*kc]
		if j.shared != nil {
			off := k*j.sharedWidth(cols) + r*k + pc
			copy(xr, j.shared[off:off+kc])
		} else {
			j.column(xr, pc, cols+r)
		}
	}
	return x
}

// remTile computes the last j.rem columns of the rows of one A panel for
// one k block with the gemv: ap is the panel's block (kc x mr, in L1 after
// the block's tiles, so the weights are read from memory once), x the
// columns' rows (remCols), flags and bias the block's.
func (j *job) remTile(ws *workspace, ap, x []float32, i0, mrCur, kc, flags int, bias []float32, last bool) {
	n, cols := j.n, j.n-j.rem
	for r := range j.rem {
		j.a.kern.gemv(ap, x[r*kc:(r+1)*kc], &ws.acc)
		off, end := i0*n+cols+r, (i0+mrCur-1)*n+cols+r+1
		var res []float32
		if flags&flagRes != 0 {
			res = j.ep.Residual[off:end]
		}
		epilogue(ws.acc[:], 1, j.c[off:end], n, bias, res, flags, mrCur, 1, j.ep.Act.Lo, j.ep.Act.Hi)
		if last {
			j.actAfter(j.a.kern, j.c[off:end], n, mrCur, 1)
		}
	}
}

// run computes the job's share of C.
func (j *job) run() {
	if j.vec {
		j.runVec()
		return
	}
	ws := bufPool.Get().(*workspace)
	defer bufPool.Put(ws)
	kern := j.kern
	mr, nr := kern.mr, kern.nr
	m, k, n := j.a.m, j.a.k, j.n
	kcStep, nc := j.blocking()
	if need := kcStep * nc; len(ws.b) < need && j.shared == nil {
		ws.b = make([]float32, need)
	}
	if j.src != nil && len(ws.t) < nc && j.shared == nil {
		ws.t = make([]float32, nc)
	}
	ad := j.a.data
	cols := n - j.rem // columns computed in tiles
	direct := j.inPlace(k)
	remHere := j.rem > 0 && j.n1*nr >= cols // this job holds the last micro-panel
	for jc := j.n0 * nr; jc < min(j.n1*nr, cols); jc += nc {
		ncCur := min(nc, min(j.n1*nr, cols)-jc)
		full, tailKern := j.tail(ncCur)
		for pc := 0; pc < k; pc += kcStep {
			kc := min(kcStep, k-pc)
			bb := j.packBlock(ws, jc, pc, kc, ncCur, full, tailKern.nr, direct)
			var flags int
			if pc > 0 {
				flags |= flagAccum
			} else {
				if j.ep.Bias != nil {
					flags |= flagBias
				}
				if j.ep.Residual != nil {
					flags |= flagRes
				}
			}
			if pc+kc == k && j.ep.ReLU {
				flags |= flagReLU
			}
			if pc+kc == k {
				flags |= j.clampFlag()
			}
			if prefetchC && pc == 0 {
				flags |= flagPrefetch
			}
			var x []float32 // the gemv's columns, in the last B block
			if remHere && jc+ncCur == cols {
				x = j.remCols(ws, pc, kc)
			}
			for q := j.m0; q < j.m1; q++ {
				i0 := q * mr
				mrCur := min(mr, m-i0)
				ap := ad[q*mr*k+pc*mr : q*mr*k+(pc+kc)*mr]
				if next := (q+1)*mr*k + pc*mr; q+1 < j.m1 && prefetch != nil && next+256 <= len(ad) {
					prefetch(ad[next:]) // the next panel's block: not where the kernel's own prefetch runs ahead to
				}
				var bias []float32
				if flags&flagBias != 0 {
					bias = j.ep.Bias[i0 : i0+mrCur]
				}
				for jr := 0; jr < ncCur; jr += nr {
					nrCur := min(nr, ncCur-jr)
					off := i0*n + jc + jr
					end := off + (mrCur-1)*n + nrCur
					var res []float32
					if flags&flagRes != 0 {
						res = j.ep.Residual[off:end]
					}
					switch {
					case jr == full && direct: // only the tail panel is packed
						tailKern.tile(kc, ap, bb[:tailKern.nr*kc], j.c[off:end], n, bias, res, flags, mrCur, nrCur, j.ep.Act.Lo, j.ep.Act.Hi)
					case direct:
						bp := j.b[pc*n+jc+jr:]
						kern.direct(kc, ap, bp, j.c[off:end], n, bias, res, flags, mrCur, nrCur, j.ep.Act.Lo, j.ep.Act.Hi, n)
					case jr == full:
						bp := bb[jr*kc : jr*kc+tailKern.nr*kc]
						tailKern.tile(kc, ap, bp, j.c[off:end], n, bias, res, flags, mrCur, nrCur, j.ep.Act.Lo, j.ep.Act.Hi)
					default:
						bp := bb[jr*kc : (jr+nr)*kc]
						kern.tile(kc, ap, bp, j.c[off:end], n, bias, res, flags, mrCur, nrCur, j.ep.Act.Lo, j.ep.Act.Hi)
					}
					if pc+kc == k {
						j.actAfter(kern, j.c[off:end], n, mrCur, nrCur)
					}
				}
				if x != nil {
					j.remTile(ws, ap, x, i0, mrCur, kc, flags, bias, pc+kc == k)
				}
			}
		}
	}
}

// prefetchC is whether the tiles of the first k block prefetch their C
// and residual rows before the k loop (flagPrefetch): C is not in cache
// yet there, and the residual was written layers ago; in later blocks C
// is the block just written. A variable for the benchmarks that compare.
var prefetchC = true

// directK is the largest k for which a plain B is read in place by the
// kernel's direct tile instead of packed: with few rows per micro-panel
// the packing costs as much as the product (MobileNetV2's 16 -> 96 1x1
// convolution at 112x112), and kc rows of B, ldb apart, stay in cache
// across the A panels.
var directK = 64

// directM is the most rows of A for which a plain B is read in place at
// any k: packing a B block costs about as much as computing it with two
// A panels, and with m/mr <= 16 panels to share it, that is more than the
// strided reads cost (64 x 256 x 3136, ResNet-50's first 1x1 at batch 1:
// 12% faster; see BENCHMARKS.md, issue 12, session 6).
var directM = 128

// direct reports whether a job with k rows of B reads B in place for
// being small in k (see directK). How Mul splits a product and whether
// PackB packs go by it.
func (j *job) direct(k int) bool {
	return j.canDirect() && k <= directK && !j.kern.directFewRows
}

// inPlace reports whether the job reads B in place: small in k, or in m
// (see directM). A job of few rows reads B in place however it was split:
// its share packs nothing then, which the split's model counts above
// thinCols columns (fewRowsInPlace) and not at or below, where plan.own's
// copies of B measured faster.
func (j *job) inPlace(k int) bool {
	return j.direct(k) || j.canDirect() && j.a.m <= directM
}

func (j *job) canDirect() bool {
	return j.b != nil && j.shared == nil && j.kern.direct != nil
}

// packBlock packs the B block [pc, pc+kc) x [jc, jc+ncCur) into the
// worker's buffer (or finds it in the shared one) and returns it; full is
// the block's columns in whole micro-panels, tnr the tail kernel's width.
// With direct only the tail panel, if any, is packed, at the start.
func (j *job) packBlock(ws *workspace, jc, pc, kc, ncCur, full, tnr int, direct bool) []float32 {
	kern, n, nr := j.kern, j.n, j.kern.nr
	switch {
	case j.shared != nil:
		return j.shared[pc*j.sharedWidth(ncCur):]
	case direct:
		if full < ncCur {
			packB(ws.b, j.b, n, pc, kc, jc+full, ncCur-full, nr, tnr, nil)
		}
	case j.src != nil:
		// One row of B at a time, through a row buffer that stays in L1,
		// straight into the panels: a whole kc x nc block would take half
		// of L2 beside the packed block.
		row := ws.t[:ncCur]
		for p := range kc {
			j.src.Rows(row, pc+p, 1, jc, ncCur)
			packRow(ws.b, row, p, kc, nr, tnr, kern.copyPanels)
		}
	default:
		packB(ws.b, j.b, n, pc, kc, jc, ncCur, nr, tnr, kern.copyPanels)
	}
	return ws.b
}
