package gemm

// How mul splits one product between threads: in N (each share packs only
// its own columns of B and reads all of A) or in M (each share reads all
// of B: packs it whole itself, or reads an implicit im2col made once for
// all, or B in place). planUnits balances the units (panels of A,
// micro-panels of B) alone, as measured on ResNet-50; planSplit overrules
// it where a model of the shares' cost clearly disagrees: MobileNetV2's
// projections to 32 channels (m = 32, n = 784), whose two shares of M each
// packed all of B, run in N shares 6-11% faster on two threads
// (BenchmarkSplitAB). The model counts, per row of k, a micro-tile's rows
// times its columns (a gemv column costs 4/3 of a tile column: one 12-lane
// FMA per 12 rows, where a 12x32 tile does 16 lanes), packCost per packed
// float of B and readCost per float read from another share or in place,
// and takes the makespan of the shares claimed in order by the first free
// thread, as the pool runs them.

// The model's constants, against one multiply-add of a micro-tile:
// packing a float of B (from L3 or memory, while the tile's operands are
// in L1 and L2), and reading one packed by another share, or in place. It
// overrules planUnits where the other split's makespan is below
// 1/splitMargin of it.
const (
	packCost    = 8
	readCost    = 1
	splitMargin = 1.05
)

// plan is one product's split: parts shares of N (byN) or of M; shared:
// B is packed once first (packShared); own: each thread packs all of B
// before the first share of M it runs, into a buffer of its own, and
// reads it for every share it claims (packOwn).
type plan struct {
	byN    bool
	parts  int
	shared bool
	own    bool
}

// splitModel is whether planSplit may overrule planUnits (a variable for
// the benchmarks that compare both).
var splitModel = true

// ownB is whether a plain B (not read in place) whose product splits M
// is packed whole by each thread for finer shares of M (plan.own), instead
// of by each of one share per thread: the same packing, but the shares are
// claimed as the threads come free, so a thread that starts late or runs
// slow (a vCPU the host slows) holds a small share at the end, not half
// of the layer. Packed once for all the shares instead (as a Source's B
// is), ResNet-50's batch-1 1x1s of M shares ran 0-7% slower than one
// share per thread (BenchmarkSharePlainAB, BENCHMARKS.md issue 12 session
// 6): the pack's own fork-join, and each share reading B packed by the
// other core. A variable for the benchmarks that compare.
var ownB = true

// packedRows is the fewest rows of A a share of M computes where B is
// packed once, for all the shares (plan.shared) or for all of its
// thread's (plan.own): half of minRowsM. ResNet-50's batch-1 128 x 512 x
// 784 (own) and 128 x 1152 x 784 (its stride-2 3x3, shared) then cut in
// 4 shares instead of 2: as fast with both threads at full speed, 1.35-1.4x
// faster with the worker at half speed (BenchmarkOwnBAB and
// BenchmarkPackedRowsAB, BENCHMARKS.md issue 12 session 6). A variable for
// the benchmarks that compare.
var packedRows = minRowsM / 2

// planUnits is the split that balances the units alone: the dimension
// whose largest share is smallest, on a tie N; shares of M one per thread
// but where they need no B of their own (read in place, or an implicit
// im2col made once for all), then finer.
func (j *job) planUnits(th, mt, nt, flops int) plan {
	if ceilDiv(nt, th)*mt <= ceilDiv(mt, th)*nt {
		return plan{byN: true, parts: finer(nt, th, flops)}
	}
	p := plan{parts: min(th, mt)}
	switch {
	case j.direct(j.a.k) && fineM:
		p.parts = min(finer(mt, th, flops), max(th, j.a.m/minRowsM))
	case j.src != nil && j.canShare() && mt > 1:
		p.shared = true
		if fineM {
			p.parts = min(finer(mt, th, flops), max(th, j.a.m/packedRows))
		}
	case j.fewRowsInPlace():
		p.parts = j.finePartsOf(mt, th, flops, packedRows)
	case j.owns(mt, th, flops):
		p.own, p.parts = true, j.finePartsOf(mt, th, flops, packedRows)
	}
	return p
}

// inPlaceFew is whether a product of few rows that reads B in place
// (job.inPlace, directM) at more than thinCols columns is split as such:
// shares of M of packedRows rows, each reading B where it is, instead of
// plan.own's copies of B. At 128 x 512 x 784 (ResNet-50's layer2 reduce
// at batch 1) that is 4-11% faster on two threads, with the worker at
// full speed or at half; at 128 x 1024 x 196 plan.own is 4-5% faster, so
// thin B keeps it (BenchmarkFewRowsAB, BENCHMARKS.md issue 12 session 6
// lead). A variable for that benchmark.
var inPlaceFew = true

// fewRowsInPlace reports whether j is split as reading B in place for its
// few rows of A at a k above directK (see inPlaceFew).
func (j *job) fewRowsInPlace() bool {
	return inPlaceFew && j.n > thinCols && !j.direct(j.a.k) && j.inPlace(j.a.k)
}

// planSplit chooses how to split j (mt A panels, nt B micro-panels, flops
// floating-point operations) between th > 1 threads.
func (j *job) planSplit(th, mt, nt, flops int) plan {
	base := j.planUnits(th, mt, nt, flops)
	if !splitModel || mt <= 1 {
		return base
	}
	k := j.a.k
	total := j.colsCost(0, nt, nt)
	rows := float64(mt * j.kern.mr)
	// N: each share packs its own columns (none read in place).
	pn := plan{byN: true, parts: finer(nt, th, flops)}
	pack := float64(packCost)
	if j.direct(k) || j.fewRowsInPlace() {
		pack = readCost // only a tail panel is packed
	}
	costN := makespan(th, pn.parts, nt, func(lo, hi int) float64 {
		return j.colsCost(lo, hi, nt)*(rows+pack) + rows*readCost // all of A
	})
	// M: shares of whole panels.
	pm := plan{parts: min(th, mt)}
	var before float64 // packing B once, in parallel, before the shares
	switch {
	case j.vec:
		pack = 0 // b is read in place, one column
		pm.parts = j.fineParts(mt, th, flops)
	case j.direct(k):
		pack = readCost
		pm.parts = j.fineParts(mt, th, flops)
	case j.fewRowsInPlace():
		pack = readCost
		pm.parts = j.finePartsOf(mt, th, flops, packedRows)
	case j.src != nil && j.canShare():
		pm.shared = true
		before, pack = float64(packCost)*total/float64(th), readCost
		pm.parts = j.finePartsOf(mt, th, flops, packedRows)
	case j.owns(mt, th, flops):
		// Each thread packs all of B once, before its first share.
		pm.own, pm.parts = true, j.finePartsOf(mt, th, flops, packedRows)
		before, pack = float64(packCost)*total, 0
	}
	mr := float64(j.kern.mr)
	costM := before + makespan(th, pm.parts, mt, func(lo, hi int) float64 {
		return float64(hi-lo)*mr*total + pack*total
	})
	// The model is coarse: it overrules the split that balances the
	// units (panels of A, micro-panels of B) alone, measured on ResNet-50,
	// only where it clearly disagrees.
	switch {
	case base.byN && costM*splitMargin < costN:
		return pm
	case !base.byN && costN*splitMargin < costM:
		return pn
	}
	return base
}

// fineParts is how many shares of M to cut where they need no B of their
// own: finer than one per thread, so that a thread at half speed (a vCPU
// the host slows) holds a small share at the end, not half of the layer,
// but each of at least minRowsM rows of A, for reading all of B from L3 to
// stay a small part of its work.
func (j *job) fineParts(mt, th, flops int) int {
	return j.finePartsOf(mt, th, flops, minRowsM)
}

// finePartsOf is fineParts with shares of at least rows rows.
func (j *job) finePartsOf(mt, th, flops, rows int) int {
	parts := min(finer(mt, th, flops), max(th, j.a.m/rows))
	if !fineM || parts < 2*th {
		return min(th, mt) // 3 shares on 2 threads take as long as 4
	}
	return parts
}

// makespan is when th threads that claim parts shares of units units in
// order (cut), each the next when it is free, finish, the share [lo, hi)
// costing cost(lo, hi).
func makespan(th, parts, units int, cost func(lo, hi int) float64) float64 {
	var free [maxParts]float64
	th = min(th, parts, maxParts)
	var end float64
	for w := range parts {
		t := 0
		for i := 1; i < th; i++ {
			if free[i] < free[t] {
				t = i
			}
		}
		free[t] += cost(cut(units, parts, th, 1, w), cut(units, parts, th, 1, w+1))
		end = max(end, free[t])
	}
	return end
}

// colsCost is the cost, in tile columns, of B micro-panels [lo, hi) of
// nt: nr each, but the last one the width of its tile kernel (the narrow
// one's where it is used), plus the gemv's columns at 4/3 each.
func (j *job) colsCost(lo, hi, nt int) float64 {
	nr := j.kern.nr
	w := float64((hi - lo) * nr)
	if hi == nt {
		cols := j.n - j.rem
		_, tk := j.tail(cols - (nt-1)*nr)
		w += float64(tk.nr-nr) + float64(j.rem)*4/3
	}
	return w
}

// ownMaxFloats bounds the B a thread packs whole for plan.own (2 MiB):
// every batch-1 product of ResNet-50 that splits M (at most 512 x 784),
// not the larger Bs of a batch's last images on two threads (1024 x 784
// at 14x14 and batch 4: 3.2 MiB a thread beside its block buffer), which
// keep one share per thread, packed block by block.
const ownMaxFloats = 1 << 19

// owns reports whether j, split in M, takes plan.own: a plain B of at
// most ownMaxFloats, packed whole, in one block, that buys shares finer
// than one per thread.
func (j *job) owns(mt, th, flops int) bool {
	return ownB && j.b != nil && j.src == nil && !j.direct(j.a.k) && !j.fewRowsInPlace() && j.canShare() && mt > 1 &&
		j.a.k*j.n <= ownMaxFloats && j.finePartsOf(mt, th, flops, packedRows) > th
}

// packOwn sets j to read B from the thread's own buffer *buf, packing all
// of B into one from sharedPool first when buf is nil (the thread's first
// share of a plan.own product), and returns the buffer; the thread returns
// it to sharedPool after its last share.
func (j *job) packOwn(buf *[]float32) *[]float32 {
	if buf != nil {
		j.shared = *buf
		return buf
	}
	buf = j.sharedBuf()
	kcStep, _ := j.blocking()
	j.packBlocks(0, ceilDiv(j.a.k, kcStep))
	return buf
}
