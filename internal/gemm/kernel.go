package gemm

import (
	"fmt"
	"slices"
)

// tileFunc computes one micro-tile: for rows i < mr and columns j < nr,
//
//	v = sum_p a[p*MR+i] * b[p*NR+j]  (p < kc)
//	if flagAccum: v += c[i*ldc+j]
//	if flagBias:  v += bias[i]
//	if flagRes:   v += res[i*ldc+j]
//	if flagReLU:  v = max(v, 0)
//	if flagClamp: v = min(max(v, lo), hi)
//	c[i*ldc+j] = v
//
// a is the packed A micro-panel (kc x MR), b the packed B micro-panel
// (kc x NR). Elements of c outside mr x nr are not touched.
type tileFunc func(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32)

// kernel is one micro-kernel with its tile shape.
type kernel struct {
	name   string
	mr, nr int
	tile   tileFunc
	// narrow, if set, is a kernel with the same mr (so the same packed A)
	// and a smaller nr that Mul uses when n <= narrow.nr.
	narrow *kernel
	// direct, if set, is tile with B read in place: kc rows of nr floats,
	// ldb floats apart, so a plain B needs no packing. Mul uses it for
	// whole micro-panels when k <= directK (see job.direct).
	direct func(kc int, a, b, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32, ldb int)
	// directFewRows: direct serves only products of few rows of A
	// (directM), not those of small k: B rows of one cache line each
	// (nr = 16), read in place by many A panels, measured 8-16% slower
	// than packed (AVX2, 256 x 64 x 3136; BENCHMARKS.md issue 12 session 6).
	directFewRows bool
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
	// alt, if set, is a kernel of the same instruction set with another
	// tile shape, which PackA uses for the row counts it pads no more
	// (see forRows).
	alt *kernel
	// act, if set, holds the vector activations by ActKind (act.go); nil
	// entries, or a nil act, run actGeneric.
	act *[ActHardSwish + 1]actFunc
}

var genericKernel = &kernel{name: "generic", mr: 4, nr: 4, tile: genericTile}

// active is the kernel PackA packs for: the best one this CPU runs.
var active = kernels()[0]

// forRows is the kernel PackA packs an m-row matrix for: k, or its alt
// when that pads m with no more zero rows. On a tie (m a multiple of 24:
// MobileNetV2's and EfficientNet's 96 to 1152 channels) the alt 8x48 tile
// computes n = 49 (7x7 at batch 1) as one tile and a gemv column, 10-13%
// faster than 12x32's 32 + 16 + 1, as fast at the other n, and its gemv
// is faster (BENCHMARKS.md, issue 16, session 5).
func (k *kernel) forRows(m int) *kernel {
	if k.alt != nil && ceilDiv(m, k.alt.mr)*k.alt.mr <= ceilDiv(m, k.mr)*k.mr {
		return k.alt
	}
	return k
}

// Kernel reports the micro-kernel in use: "avx512", "avx2", or "generic".
func Kernel() string { return active.name }

// kernels lists the kernels this CPU can run, best first; the last is
// always the generic one.
func kernels() []*kernel { return append(append([]*kernel(nil), archKernels...), genericKernel) }

// Use makes PackA pack for the named kernel ("avx512", "avx2" or
// "generic") from now on, and WinoInput and the like use that instruction
// set's transforms (none for "generic"); matrices packed before keep theirs. It fails for a
// kernel this CPU (or a purego build) lacks. Call it at start, before
// loading models (MLSERVE_GEMM_KERNEL), or in tests.
func Use(name string) error {
	k := kernelByName(name)
	if k == nil || !slices.Contains(kernels(), k) { // an alt tile shape is not a kernel to use
		var names []string
		for _, k := range kernels() {
			names = append(names, k.name)
		}
		return fmt.Errorf("gemm: kernel %q is not available here (have %v)", name, names)
	}
	active = k
	useWinoKernels(k.name) // the Winograd transforms follow
	return nil
}

// kernelByName is the test hook that forces a kernel: packA(a, m, k,
// kernelByName("generic")) makes every later Mul with that PackedA run the
// generic kernel, side by side with the others. nil if the CPU lacks it.
// An alt tile shape ("avx512w") is found by its own name too, so tests run
// it on every shape.
func kernelByName(name string) *kernel {
	for _, k := range kernels() {
		if k.name == name {
			return k
		}
		if k.alt != nil && k.alt.name == name {
			return k.alt
		}
	}
	return nil
}
