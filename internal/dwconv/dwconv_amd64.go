//go:build !purego

package dwconv

import "golang.org/x/sys/cpu"

// archKernels are the assembly kernels this CPU (and OS) runs, best first.
var archKernels = func() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F && cpu.X86.HasBMI2 {
		ks = append(ks, &kernel{name: "avx512", rows: rows512, rowsK: rowsK512, deinterleave: deinterleave512, padCopy: padCopy512, padSplit2: padSplit2512})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &kernel{name: "avx2", rows: rows256, rowsK: rowsK256, deinterleave: deinterleave256, padCopy: padCopy256})
	}
	return ks
}()

// rows512 and rows256 check what the assembly reads and writes: oh rows of
// ow pixels of dst, and every tap's run of src with its vector of slack.
func rows512(dst, src []float32, offs, boffs []int, w []float32, ow, oh, step int, bias, lo, hi float32) {
	checkRows(dst, src, offs, boffs, w, ow, oh, step)
	rowsAVX512(&dst[0], &src[0], &boffs[0], &w[0], len(w), ow, oh, 4*step, bias, lo, hi)
}

func rows256(dst, src []float32, offs, boffs []int, w []float32, ow, oh, step int, bias, lo, hi float32) {
	checkRows(dst, src, offs, boffs, w, ow, oh, step)
	rowsAVX2(&dst[0], &src[0], &boffs[0], &w[0], len(w), ow, oh, 4*step, bias, lo, hi)
}

// rowsK512 and rowsK256 return the specialized row kernels, wrapped to
// check what they read and write like rows512. Rows of at most 8 pixels
// (7x7 planes) run AVX-512's ymm kernels: a zmm operation is two on the
// CPUs that split them (AMD Zen 4), and half of its lanes would be idle.
func rowsK512(k, s, ow int) rowsKFunc {
	type kern = func(dst, src *float32, geo *[2]int, w *float32, ow, oh, step int, bias, lo, hi float32)
	f := map[[2]int]kern{
		{3, 1}: rows3x3S1AVX512, {3, 2}: rows3x3S2AVX512, {5, 1}: rows5x5S1AVX512, {5, 2}: rows5x5S2AVX512,
	}
	if ow <= 8 {
		f = map[[2]int]kern{
			{3, 1}: rows3x3S1AVX512Y, {3, 2}: rows3x3S2AVX512Y, {5, 1}: rows5x5S1AVX512Y, {5, 2}: rows5x5S2AVX512Y,
		}
	}
	return wrapK(f[[2]int{k, s}])
}

func rowsK256(k, s, _ int) rowsKFunc {
	f := map[[2]int]func(dst, src *float32, geo *[2]int, w *float32, ow, oh, step int, bias, lo, hi float32){
		{3, 1}: rows3x3S1AVX2, {3, 2}: rows3x3S2AVX2,
	}[[2]int{k, s}]
	return wrapK(f)
}

func wrapK(f func(dst, src *float32, geo *[2]int, w *float32, ow, oh, step int, bias, lo, hi float32)) rowsKFunc {
	if f == nil {
		return nil
	}
	return func(dst, src []float32, geo *[2]int, reach int, w []float32, ow, oh, step int, bias, lo, hi float32) {
		_, _ = dst[oh*ow-1], w[len(w)-1]
		_ = src[(oh-1)*step+reach+ow-1+slack]
		f(&dst[0], &src[0], geo, &w[0], ow, oh, 4*step, bias, lo, hi)
	}
}

func checkRows(dst, src []float32, offs, boffs []int, w []float32, ow, oh, step int) {
	_ = dst[oh*ow-1]
	_, _ = offs[len(w)-1], boffs[len(w)-1]
	last := (oh - 1) * step
	for _, o := range offs[:len(w)] {
		_ = src[last+o+ow-1+slack]
	}
}

// deinterleave512 and deinterleave256 run the assembly on whole blocks and
// finish in Go.
func deinterleave512(even, odd, src []float32) {
	n := len(even) / 16
	if n > 0 {
		_, _, _ = odd[16*n-1], src[32*n-1], even[16*n-1]
		deinterleaveAVX512(&even[0], &odd[0], &src[0], n)
	}
	deinterleaveGeneric(even[16*n:], odd[16*n:], src[32*n:])
}

func deinterleave256(even, odd, src []float32) {
	n := len(even) / 8
	if n > 0 {
		_, _, _ = odd[8*n-1], src[16*n-1], even[8*n-1]
		deinterleaveAVX2(&even[0], &odd[0], &src[0], n)
	}
	deinterleaveGeneric(even[8*n:], odd[8*n:], src[16*n:])
}

// padCopy512 and padCopy256 check the rows the assembly copies.
// Rows of at most 8 floats (7x7 planes) take the ymm copy, as rowsK512.
func padCopy512(dst, src []float32, rows, w, dpitch, spitch int) {
	_, _ = dst[(rows-1)*dpitch+w-1], src[(rows-1)*spitch+w-1]
	if w <= 8 {
		padCopyAVX512Y(&dst[0], &src[0], rows, w, dpitch, spitch)
		return
	}
	padCopyAVX512(&dst[0], &src[0], rows, w, dpitch, spitch)
}

func padCopy256(dst, src []float32, rows, w, dpitch, spitch int) {
	_, _ = dst[(rows-1)*dpitch+w-1], src[(rows-1)*spitch+w-1]
	padCopyAVX2(&dst[0], &src[0], rows, w, dpitch, spitch)
}

// padSplit2512 runs the assembly; Conv.padSplit2 checks the bounds of the
// last row of ev, od and src first.
func padSplit2512(ev, od, src []float32, rows, w, dpitch, spitch int) {
	padSplit2AVX512(&ev[0], &od[0], &src[0], rows, w, dpitch, spitch)
}
