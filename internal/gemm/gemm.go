// Package gemm multiplies float32 matrices for the engine's convolutions:
// C = act(A*B + bias + residual), with A (the weights) packed once at load
// and B (the activations, or their im2col) packed per call into blocks that
// fit the caches. The micro-kernel is AVX-512 or AVX2+FMA assembly on amd64
// (chosen at start from the CPU's features) and pure Go everywhere else.
package gemm

import (
	"fmt"
	"runtime"
	"sync"
)

//go:generate sh -c "cd ../../_asm && go run . -out ../internal/gemm/gemm_amd64.s -stubs ../internal/gemm/kernels_amd64.go -pkg gemm"

// Blocking. A B block of kc x nc floats is packed per worker and stays in
// L2 (256*1024*4 = 1 MiB of this CPU's 2 MiB per core); one A micro-panel
// (mr x kc, 12 KiB) stays in L1 while the kernel walks the B block's nr-wide
// micro-panels.
const (
	kcMax = 256
	ncMax = 1024
)

// Flags of one micro-tile call.
const (
	flagAccum = 1 << iota // add the tile's current C values (k blocks after the first)
	flagBias              // add bias[row]
	flagRes               // add the residual tile (same layout as C)
	flagReLU              // clamp at zero (last k block only)
)

// tileFunc computes one micro-tile: for rows i < mr and columns j < nr,
//
//	v = sum_p a[p*MR+i] * b[p*NR+j]  (p < kc)
//	if flagAccum: v += c[i*ldc+j]
//	if flagBias:  v += bias[i]
//	if flagRes:   v += res[i*ldc+j]
//	if flagReLU:  v = max(v, 0)
//	c[i*ldc+j] = v
//
// a is the packed A micro-panel (kc x MR), b the packed B micro-panel
// (kc x NR). Elements of c outside mr x nr are not touched.
type tileFunc func(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int)

// kernel is one micro-kernel with its tile shape.
type kernel struct {
	name   string
	mr, nr int
	tile   tileFunc
	// narrow, if set, is a kernel with the same mr (so the same packed A)
	// and a smaller nr that Mul uses when n <= narrow.nr.
	narrow *kernel
	// copyPanels, if set, packs one row of B: for q < panels it copies
	// src[q*nr : q*nr+nr] to dst[q*stride:]. nil: packB's Go loop.
	copyPanels func(dst, src []float32, panels, stride int)
	// peak, if set, runs n iterations of peakFlops floating-point
	// operations of register-only FMAs: the core's FMA peak, which the
	// GEMM benchmark reports the kernel's efficiency against.
	peak      func(n int)
	peakFlops int
	// gemv, if set, computes out[i] = sum_p a[p*mr+i] * x[p] for i < mr
	// of one whole packed A panel (len(x) = k): Mul uses it for n = 1.
	gemv func(a, x []float32, out *[16]float32)
}

var genericKernel = &kernel{name: "generic", mr: 4, nr: 4, tile: genericTile}

// active is the kernel PackA packs for: the best one this CPU runs.
var active = kernels()[0]

// Kernel reports the micro-kernel in use: "avx512", "avx2", or "generic".
func Kernel() string { return active.name }

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
	return packA(a, m, k, active)
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

// Epilogue is applied as C = act(A*B + Bias[row] + Residual) element-wise.
type Epilogue struct {
	Bias     []float32 // len m, or nil
	Residual []float32 // same layout as C (m x n contiguous), or nil
	ReLU     bool
}

// Mul computes C = A*B with the epilogue. B is k x n row-major contiguous
// (ldb = n); C is m x n row-major contiguous (ldc = n). C must not alias B;
// Residual may be C itself (the same slice), or must not overlap it. The
// work is split across up to runtime.GOMAXPROCS(0) goroutines (N in
// nr-wide strips, or M in mr-row panels when n is small). Mul is safe for
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

func mul(c []float32, a *PackedA, b []float32, src Source, n int, ep Epilogue) {
	m, k := a.m, a.k
	switch {
	case n <= 0:
		panic(fmt.Sprintf("gemm: Mul: n=%d", n))
	case b == nil && src == nil:
		panic("gemm: Mul: no B")
	case len(c) < m*n:
		panic(fmt.Sprintf("gemm: Mul: len(c)=%d < m*n=%d", len(c), m*n))
	case ep.Bias != nil && len(ep.Bias) < m:
		panic(fmt.Sprintf("gemm: Mul: len(bias)=%d < m=%d", len(ep.Bias), m))
	case ep.Residual != nil && len(ep.Residual) < m*n:
		panic(fmt.Sprintf("gemm: Mul: len(residual)=%d < m*n=%d", len(ep.Residual), m*n))
	}
	c = c[:m*n]
	if ep.Bias != nil {
		ep.Bias = ep.Bias[:m]
	}
	if ep.Residual != nil {
		ep.Residual = ep.Residual[:m*n]
	}
	j, mt, nt := newJob(c, a, b, src, n, ep)
	parts := runtime.GOMAXPROCS(0)
	// Small products are not worth waking a worker (~1-2 µs).
	if 2*m*n*k < 1<<18 {
		parts = 1
	}
	// Split the dimension whose largest share is smallest; on a tie split
	// N, where each worker packs only its own part of B.
	splitN := ceilDiv(nt, parts)*mt <= ceilDiv(mt, parts)*nt
	if splitN {
		parts = min(parts, nt)
	} else {
		parts = min(parts, mt)
	}
	if parts <= 1 {
		j.run()
		return
	}
	total := nt
	if !splitN {
		total = mt
	}
	g := groups.Get().(*group)
	for w := range parts {
		lo, hi := w*total/parts, (w+1)*total/parts
		t := j
		if splitN {
			t.m0, t.m1, t.n0, t.n1 = 0, mt, lo, hi
		} else {
			t.m0, t.m1, t.n0, t.n1 = lo, hi, 0, nt
		}
		if w == parts-1 {
			g.fork(parts - 1)
			t.run()
			break
		}
		g.tasks[w].j = t
	}
	g.join(parts - 1)
}

// newJob sets up C = A*B for the whole of C, and returns the number of A
// panels and of B micro-panels (the units jobs split).
func newJob(c []float32, a *PackedA, b []float32, src Source, n int, ep Epilogue) (j job, mt, nt int) {
	kern := a.kern
	vec := n == 1 && b != nil && kern.gemv != nil
	if kern.narrow != nil && n <= kern.narrow.nr && !vec {
		kern = kern.narrow
	}
	j = job{c: c, a: a, kern: kern, b: b, src: src, n: n, ep: ep, vec: vec}
	// One or two columns past a multiple of 16 (n = 49: ResNet's last
	// stage at batch 1) are computed with the gemv, one FMA per 12 rows,
	// instead of in a 16- or 32-wide tile, 12 FMAs per 12 rows.
	if r := n % 16; !vec && a.kern.gemv != nil && r <= 2 && n > r {
		j.rem = r
	}
	mt = ceilDiv(a.m, kern.mr)
	nt = ceilDiv(n-j.rem, kern.nr)
	j.m1, j.n1 = mt, nt
	return j, mt, nt
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
	vec    bool // n = 1 with the kernel's gemv: A panels times the vector b
	rem    int  // the last rem columns are computed with the gemv (see mul)
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

// runVec computes the job's share of C = A*b for n = 1, panel by panel.
func (j *job) runVec() {
	kern := j.kern
	mr, m, k := kern.mr, j.a.m, j.a.k
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
	ws := bufPool.Get().(*workspace)
	defer bufPool.Put(ws)
	acc := &ws.acc // a pooled array: one on the stack would escape through kern.gemv
	for q := j.m0; q < j.m1; q++ {
		i0 := q * mr
		mrCur := min(mr, m-i0)
		kern.gemv(j.a.data[q*mr*k:(q+1)*mr*k], j.b[:k], acc)
		var bias, res []float32
		if j.ep.Bias != nil {
			bias = j.ep.Bias[i0 : i0+mrCur]
		}
		if j.ep.Residual != nil {
			res = j.ep.Residual[i0 : i0+mrCur]
		}
		epilogue(acc[:], 1, j.c[i0:i0+mrCur], 1, bias, res, flags, mrCur, 1)
	}
}

// runRem computes the last j.rem columns of C for the job's A panels with
// the gemv, each from its column of B, gathered.
func (j *job) runRem(ws *workspace) {
	gemv := j.a.kern.gemv
	mr, m, k, n := j.a.kern.mr, j.a.m, j.a.k, j.n
	if len(ws.x) < k {
		ws.x = make([]float32, k)
	}
	x := ws.x[:k]
	flags := 0
	if j.ep.Bias != nil {
		flags |= flagBias
	}
	if j.ep.Residual != nil {
		flags |= flagRes
	}
	if j.ep.ReLU {
		flags |= flagReLU
	}
	for col := n - j.rem; col < n; col++ {
		if j.src != nil {
			j.src.Rows(x, 0, k, col, 1)
		} else {
			for p := range x {
				x[p] = j.b[p*n+col]
			}
		}
		for q := j.m0; q < j.m1; q++ {
			i0 := q * mr
			mrCur := min(mr, m-i0)
			gemv(j.a.data[q*mr*k:(q+1)*mr*k], x, &ws.acc)
			off, end := i0*n+col, (i0+mrCur-1)*n+col+1
			var bias, res []float32
			if j.ep.Bias != nil {
				bias = j.ep.Bias[i0 : i0+mrCur]
			}
			if j.ep.Residual != nil {
				res = j.ep.Residual[off:end]
			}
			epilogue(ws.acc[:], 1, j.c[off:end], n, bias, res, flags, mrCur, 1)
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
	nc := ncMax / nr * nr
	kblocks := ceilDiv(k, kcMax)
	kcStep := ceilDiv(k, kblocks)
	if need := kcStep * nc; len(ws.b) < need {
		ws.b = make([]float32, need)
	}
	if j.src != nil && len(ws.t) < nc {
		ws.t = make([]float32, nc)
	}
	ad := j.a.data
	cols := n - j.rem // columns computed in tiles
	if j.rem > 0 && j.n1*nr >= cols {
		defer j.runRem(ws) // this job holds the last micro-panel
	}
	for jc := j.n0 * nr; jc < min(j.n1*nr, cols); jc += nc {
		ncCur := min(nc, min(j.n1*nr, cols)-jc)
		// A last micro-panel narrower than the narrow kernel is packed
		// and computed at its width (n = 196 computes 208 columns, not 224).
		full := ncCur / nr * nr
		tailKern := kern
		if t := ncCur - full; t > 0 && kern.narrow != nil && t <= kern.narrow.nr {
			tailKern = kern.narrow
		}
		for pc := 0; pc < k; pc += kcStep {
			kc := min(kcStep, k-pc)
			if j.src != nil {
				// One row of B at a time, through a row buffer that stays
				// in L1, straight into the panels: a whole kc x nc block
				// would take half of L2 beside the packed block.
				row := ws.t[:ncCur]
				for p := range kc {
					j.src.Rows(row, pc+p, 1, jc, ncCur)
					packRow(ws.b, row, p, kc, nr, tailKern.nr, kern.copyPanels)
				}
			} else {
				packB(ws.b, j.b, n, pc, kc, jc, ncCur, nr, tailKern.nr, kern.copyPanels)
			}
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
			for q := j.m0; q < j.m1; q++ {
				i0 := q * mr
				mrCur := min(mr, m-i0)
				ap := ad[q*mr*k+pc*mr : q*mr*k+(pc+kc)*mr]
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
					if jr == full {
						bp := ws.b[jr*kc : jr*kc+tailKern.nr*kc]
						tailKern.tile(kc, ap, bp, j.c[off:end], n, bias, res, flags, mrCur, nrCur)
						continue
					}
					bp := ws.b[jr*kc : (jr+nr)*kc]
					kern.tile(kc, ap, bp, j.c[off:end], n, bias, res, flags, mrCur, nrCur)
				}
			}
		}
	}
}

// packB copies B[pc:pc+kc, jc:jc+nc] into dst as nr-wide micro-panels, each
// kc x nr row-major; a last, partial micro-panel is tnr wide (tnr <= nr),
// zero-padded past nc. It walks B row by row (sequential reads).
func packB(dst, b []float32, ldb, pc, kc, jc, nc, nr, tnr int, cp func(dst, src []float32, panels, stride int)) {
	for p := range kc {
		packRow(dst, b[(pc+p)*ldb+jc:(pc+p)*ldb+jc+nc], p, kc, nr, tnr, cp)
	}
}

// packRow copies src, row p of a kc x len(src) block of B, into its place in
// the block's micro-panels (see packB). cp, if not nil, copies the row's
// whole panels (an assembly helper), else whole panel rows move as
// fixed-size arrays, which the compiler inlines.
func packRow(dst, src []float32, p, kc, nr, tnr int, cp func(dst, src []float32, panels, stride int)) {
	nc := len(src)
	full := nc / nr * nr
	switch {
	case cp != nil:
		if full > 0 {
			cp(dst[p*nr:], src, full/nr, kc*nr)
		}
	case nr == 32:
		for jr := 0; jr < full; jr += 32 {
			*(*[32]float32)(dst[jr*kc+p*32:]) = *(*[32]float32)(src[jr:])
		}
	case nr == 16:
		for jr := 0; jr < full; jr += 16 {
			*(*[16]float32)(dst[jr*kc+p*16:]) = *(*[16]float32)(src[jr:])
		}
	case nr == 4:
		for jr := 0; jr < full; jr += 4 {
			*(*[4]float32)(dst[jr*kc+p*4:]) = *(*[4]float32)(src[jr:])
		}
	default:
		for jr := 0; jr < full; jr += nr {
			copy(dst[jr*kc+p*nr:jr*kc+p*nr+nr], src[jr:jr+nr])
		}
	}
	if full < nc {
		// Element loops: cheaper than memmove and memclr calls for
		// fewer than nr floats.
		d := dst[full*kc+p*tnr : full*kc+p*tnr+tnr]
		t := src[full:]
		for i := range d {
			if i < len(t) {
				d[i] = t[i]
			} else {
				d[i] = 0
			}
		}
	}
}

// genericTile is the pure-Go micro-kernel (4x4, register-blocked) and the
// reference every assembly kernel is tested against.
func genericTile(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int) {
	const MR, NR = 4, 4
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:kc*MR]
	b = b[:kc*NR]
	for p := 0; p < kc; p++ {
		av := a[p*MR : p*MR+MR : p*MR+MR]
		bv := b[p*NR : p*NR+NR : p*NR+NR]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		a0 := av[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := av[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := av[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := av[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [MR * NR]float32{
		c00, c01, c02, c03,
		c10, c11, c12, c13,
		c20, c21, c22, c23,
		c30, c31, c32, c33,
	}
	epilogue(acc[:], NR, c, ldc, bias, res, flags, mr, nr)
}

// epilogue merges the mr x nr corner of a computed tile (row stride
// stride) into c with the flags' epilogue. ReLU keeps NaN, like max(v, 0)
// in the assembly kernels.
func epilogue(acc []float32, stride int, c []float32, ldc int, bias, res []float32, flags, mr, nr int) {
	for i := range mr {
		row := c[i*ldc : i*ldc+nr]
		for j := range row {
			v := acc[i*stride+j]
			if flags&flagAccum != 0 {
				v += row[j]
			}
			if flags&flagBias != 0 {
				v += bias[i]
			}
			if flags&flagRes != 0 {
				v += res[i*ldc+j]
			}
			if flags&flagReLU != 0 && v < 0 {
				v = 0
			}
			row[j] = v
		}
	}
}

// kernels lists the kernels this CPU can run, best first; the last is
// always the generic one.
func kernels() []*kernel { return append(append([]*kernel(nil), archKernels...), genericKernel) }

// Use makes PackA pack for the named kernel ("avx512", "avx2" or
// "generic") from now on; matrices packed before keep theirs. It fails for a
// kernel this CPU (or a purego build) lacks. Call it at start, before
// loading models (MLSERVE_GEMM_KERNEL), or in tests.
func Use(name string) error {
	k := kernelByName(name)
	if k == nil {
		var names []string
		for _, k := range kernels() {
			names = append(names, k.name)
		}
		return fmt.Errorf("gemm: kernel %q is not available here (have %v)", name, names)
	}
	active = k
	return nil
}

// kernelByName is the test hook that forces a kernel: packA(a, m, k,
// kernelByName("generic")) makes every later Mul with that PackedA run the
// generic kernel, side by side with the others. nil if the CPU lacks it.
func kernelByName(name string) *kernel {
	for _, k := range kernels() {
		if k.name == name {
			return k
		}
	}
	return nil
}

// MaxInto sets dst[i] = max(dst[i], src[i]) for i < len(dst); src must be
// at least as long. Where either is NaN the result is src[i], as x86's
// MAXPS gives. It is the inner loop of the engine's max pooling, here
// beside the GEMM because that is where the vector kernels are.
func MaxInto(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	_ = src[len(dst)-1]
	maxInto(dst, src[:len(dst)])
}

// maxInto is MaxInto's kernel: maxIntoGeneric unless the CPU has a vector
// one (set at init).
var maxInto = maxIntoGeneric

// maxIntoGeneric is the pure-Go MaxInto, and the reference for the others.
func maxIntoGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i, s := range src {
		if !(dst[i] > s) {
			dst[i] = s
		}
	}
}

// Winograd F(2x2, 3x3) transform kernels for the engine (internal/infer's
// winograd.go documents the layouts). Each returns false, doing nothing,
// when this CPU or build has no vector kernel or the slices are shorter
// than the kernel reads; the caller then runs its own loop.
var (
	winoIn  func(rows *float32, ws int, out *float32, stride int, n int)
	winoOut func(m *float32, stride int, n int, out0, out1, bias *float32, relu bool)
)

// WinoInput writes the input transform of n tiles of one tile row: rows
// holds the eight arrays E0, O0, ..., E3, O3, ws floats apart (ws > n), and
// tile t's transform goes to out[ξ*stride+t]. rows must extend 16 floats
// past 7*ws+n.
func WinoInput(rows []float32, ws int, out []float32, stride, n int) bool {
	if winoIn == nil || n <= 0 || ws <= n || len(rows) < 7*ws+ceilDiv(n, 16)*16+1 || len(out) < 15*stride+n {
		return n <= 0 && winoIn != nil
	}
	winoIn(&rows[0], ws, &out[0], stride, n)
	return true
}

// WinoOutput writes the output transform of n whole tiles of one tile row
// and channel: from m[ξ*stride+t] to out0[2t:2t+2] and out1[2t:2t+2], plus
// bias, then ReLU. m must extend 16 floats past 15*stride+n.
func WinoOutput(m []float32, stride, n int, out0, out1 []float32, bias float32, relu bool) bool {
	if winoOut == nil || n <= 0 || len(m) < 15*stride+ceilDiv(n, 16)*16 || len(out0) < 2*n || len(out1) < 2*n {
		return n <= 0 && winoOut != nil
	}
	winoOut(&m[0], stride, n, &out0[0], &out1[0], &bias, relu)
	return true
}

// HasWinoKernels reports whether WinoInput and WinoOutput run vector
// kernels here.
func HasWinoKernels() bool { return winoIn != nil && winoOut != nil }
