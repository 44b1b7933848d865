package gemm

import (
	"math"
	"testing"
)

// TestWinoSplit checks the phase split against its definition for both m,
// row widths and left pads around ResNet's (and odd ones), tile counts
// from 1 to several vectors, with a guard band around every phase and row
// that must stay untouched.
func TestWinoSplit(t *testing.T) {
	if winoSplitKernel(4) == nil {
		if WinoSplit(make([]float32, 64), 16, make([]float32, 64), 4, 1, 1, 1, 4) {
			t.Fatal("WinoSplit reported a split without a kernel")
		}
		t.Skip("no vector phase split with this kernel")
	}
	guard := float32(math.Inf(-1))
	for _, m := range []int{2, 4} {
		for _, w := range []int{1, 3, 7, 14, 15, 28, 56, 57, 70} {
			for _, pl := range []int{0, 1, 2, 5} {
				n := (pl+w+1)/m + 1 // the tiles' phases reach past the row
				checkWinoSplit(t, m, w, pl, n, guard)
				checkWinoSplit(t, m, w, pl, max(n/3, 1), guard)
			}
		}
	}
}

func checkWinoSplit(t *testing.T, m, w, pl, n int, guard float32) {
	t.Helper()
	const rows = 3
	ws := n + 17
	src := make([]float32, rows*w)
	for i := range src {
		src[i] = float32(i + 1)
	}
	dst := make([]float32, rows*m*ws)
	for i := range dst {
		dst[i] = guard
	}
	if !WinoSplit(dst, ws, src, w, pl, rows, n, m) {
		if ceilDiv(n, 16)*m > maxSplitVectors {
			return
		}
		t.Fatalf("m=%d w=%d pl=%d n=%d: no split", m, w, pl, n)
	}
	for r := range rows {
		for p := range m {
			for x := range ws {
				want := guard
				if x < n {
					want = 0
					if c := m*x + p - pl; c >= 0 && c < w {
						want = src[r*w+c]
					}
				}
				if got := dst[r*m*ws+p*ws+x]; got != want {
					t.Fatalf("m=%d w=%d pl=%d n=%d: row %d phase %d [%d] = %v, want %v", m, w, pl, n, r, p, x, got, want)
				}
			}
		}
	}
}
