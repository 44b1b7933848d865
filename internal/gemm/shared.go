package gemm

import "sync"

// Shared B. When Mul splits M (n small against m), every share needs all of
// B; for a Source (an implicit im2col), B is packed once, k block by k
// block in parallel, into a buffer all the shares read, instead of being
// made whole by every share.

// sharedPool holds the shared packed-B buffers.
var sharedPool = sync.Pool{New: func() any { return new([]float32) }}

// blocking is the k and n blocking of one job: k blocks of kcStep rows, B
// blocks of nc columns.
func (j *job) blocking() (kcStep, nc int) {
	nc = ncMax / j.kern.nr * j.kern.nr
	kc := kcMax
	if j.n <= thinCols {
		kc = kcThin
	}
	return ceilDiv(j.a.k, ceilDiv(j.a.k, kc)), nc
}

// tail returns how many of ncCur columns (one B block) are whole nr-wide
// micro-panels, and the kernel of the last, partial one: the narrow kernel
// when it is narrow enough (n = 196 computes 208 columns, not 224).
func (j *job) tail(ncCur int) (full int, tailKern *kernel) {
	full = ncCur / j.kern.nr * j.kern.nr
	tailKern = j.kern
	if t := ncCur - full; t > 0 && j.kern.narrow != nil && t <= j.kern.narrow.nr {
		tailKern = j.kern.narrow
	}
	return full, tailKern
}

// sharedWidth is the floats per row of the packed B block of ncCur columns.
func (j *job) sharedWidth(ncCur int) int {
	full, tk := j.tail(ncCur)
	if ncCur > full {
		return full + tk.nr
	}
	return full
}

// canShare reports whether B fits one shared block: its tiled columns in
// one nc block.
func (j *job) canShare() bool {
	_, nc := j.blocking()
	return !j.vec && j.n-j.rem <= nc
}

// packShared packs all of B, one B block of n - rem columns, into a pooled
// buffer (k block pc at pc*width), and the columns of the gemv's last rem
// columns after it, in parallel over k blocks, and sets j.shared to it.
// The caller returns the buffer to sharedPool once every share is done.
func (j *job) packShared(th int) *[]float32 {
	kcStep, _ := j.blocking()
	buf := j.sharedBuf()
	blocks := ceilDiv(j.a.k, kcStep)
	parts := min(chunksPerThread*th, blocks, maxParts)
	if parts <= 1 {
		j.packBlocks(0, blocks)
		return buf
	}
	// Shares of the pool's own kind, not a Parallel closure: Mul does not
	// allocate.
	g := groups.Get().(*group)
	for w := range parts {
		t := &g.tasks[w]
		t.j, t.pack, t.lo, t.hi = *j, true, cut(blocks, parts, th, 1, w), cut(blocks, parts, th, 1, w+1)
	}
	g.run(parts, th-1)
	return buf
}

// sharedBuf sets j.shared to a buffer from sharedPool that holds all of B
// packed (see packShared), and returns it.
func (j *job) sharedBuf() *[]float32 {
	k, cols := j.a.k, j.n-j.rem
	buf := sharedPool.Get().(*[]float32)
	if need := k*j.sharedWidth(cols) + j.rem*k; len(*buf) < need {
		*buf = make([]float32, need)
	}
	j.shared = *buf
	return buf
}

// packBlocks packs k blocks [lo, hi) of B into j.shared (see packShared).
func (j *job) packBlocks(lo, hi int) {
	k, cols := j.a.k, j.n-j.rem
	width := j.sharedWidth(cols)
	kcStep, _ := j.blocking()
	_, tk := j.tail(cols)
	nr, cp := j.kern.nr, j.kern.copyPanels
	ws := bufPool.Get().(*workspace)
	defer bufPool.Put(ws)
	if len(ws.t) < cols {
		ws.t = make([]float32, cols)
	}
	for blk := lo; blk < hi; blk++ {
		pc := blk * kcStep
		kc := min(kcStep, k-pc)
		block := j.shared[pc*width:]
		if j.src != nil {
			row := ws.t[:cols]
			for p := range kc {
				j.src.Rows(row, pc+p, 1, 0, cols)
				packRow(block, row, p, kc, nr, tk.nr, cp)
			}
		} else {
			packB(block, j.b, j.n, pc, kc, 0, cols, nr, tk.nr, cp)
		}
		for r := range j.rem {
			x := j.shared[k*width+r*k+pc : k*width+r*k+pc+kc]
			j.column(x, pc, cols+r)
		}
	}
}

// column writes rows [pc, pc+len(x)) of column col of B into x.
func (j *job) column(x []float32, pc, col int) {
	if j.src != nil {
		j.src.Rows(x, pc, len(x), col, 1)
		return
	}
	for p := range x {
		x[p] = j.b[(pc+p)*j.n+col]
	}
}
