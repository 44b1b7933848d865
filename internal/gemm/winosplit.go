package gemm

import "fmt"

// WinoSplit splits rows input rows of src (w floats each, consecutive),
// zero-padded by pl columns on the left and as far as needed on the right,
// into their m phases (columns mod m, m 2 or 4) for WinoInput and
// WinoInput4, n floats a phase, the phases ws floats apart and the rows'
// m*ws:
//
//	dst[r*m*ws + p*ws + t] = src[r*w + m*t + p - pl], 0 outside [0, w)
//
// for r < rows, p < m, t < n. It reports false, and writes nothing, where
// no vector kernel runs (the caller splits in Go then) or n exceeds 64
// floats a phase at m = 4 (128 at m = 2). It panics on impossible shapes.
func WinoSplit(dst []float32, ws int, src []float32, w, pl, rows, n, m int) bool {
	k := winoSplitKernel(m)
	groups := ceilDiv(n, 16)
	if k == nil || rows <= 0 || n <= 0 || groups*m > maxSplitVectors {
		return false
	}
	if ws < n || pl < 0 || w <= 0 || len(src) < rows*w || len(dst) < (rows-1)*m*ws+(m-1)*ws+n {
		panic(fmt.Sprintf("gemm: WinoSplit: bad shapes ws=%d n=%d w=%d pl=%d rows=%d m=%d len(src)=%d len(dst)=%d", ws, n, w, pl, rows, m, len(src), len(dst)))
	}
	var masks [maxSplitVectors]uint16
	for v := range groups * m { // the lanes of padded columns [16v, 16v+16) inside the row
		lo, hi := min(max(pl-16*v, 0), 16), min(max(pl+w-16*v, 0), 16)
		masks[v] = uint16((1<<hi - 1) &^ (1<<lo - 1))
	}
	k(&dst[0], ws, &src[0], w, pl, rows, n, &masks[0])
	return true
}

// maxSplitVectors bounds the vectors of one padded row WinoSplit reads:
// 64 tiles of F(4x4), 128 of F(2x2).
const maxSplitVectors = 16
