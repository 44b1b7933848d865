package gemm

import (
	"fmt"
	"math"
	"testing"
)

// TestCopyRows checks CopyRows (the active kernel and the generic one)
// against the definition, dst[r*ds+c] = src[r*ss+c], for column counts
// around the vector width, with the gaps between dst rows and guard bands
// around dst left untouched.
func TestCopyRows(t *testing.T) {
	kernels := map[string]func(dst, src []float32, rows, cols, ds, ss int){
		"active": CopyRows, "generic": copyRowsGeneric,
	}
	for name, copyFn := range kernels {
		for _, cols := range []int{1, 7, 15, 16, 17, 28, 31, 32, 33, 56, 112} {
			for _, rows := range []int{0, 1, 3, 13} {
				t.Run(fmt.Sprintf("%s/%dx%d", name, rows, cols), func(t *testing.T) {
					ds, ss := cols+3, 2*cols+5
					src := make([]float32, max(rows*ss, 1))
					for i := range src {
						src[i] = float32(i + 1)
					}
					buf := make([]float32, rows*ds+2*guard)
					for i := range buf {
						buf[i] = sentinel
					}
					copyFn(buf[guard:], src, rows, cols, ds, ss)
					for i, v := range buf {
						want := sentinel
						if r, c := (i-guard)/ds, (i-guard)%ds; i >= guard && r < rows && c < cols {
							want = src[r*ss+c]
						}
						if math.Float32bits(v) != math.Float32bits(want) {
							t.Fatalf("buf[%d] (dst %d) = %v, want %v", i, i-guard, v, want)
						}
					}
				})
			}
		}
	}
}

// TestEvens checks Evens, CopyRowsEvens and their kernels (the active
// one, also below 16 columns, where Evens does not call it, and the
// generic one) against the definition, dst[r*ds+c] = src[r*ss+2c], for
// every column count up to 70 with the last row's src ending exactly at
// its last float read or one past it, and guard bands around dst.
func TestEvens(t *testing.T) {
	fns := map[string]func(dst, src []float32, rows, cols, ds, ss int){
		"active": CopyRowsEvens, "kernel": copyRowsEvens, "generic": copyRowsEvensGeneric,
		"Evens": func(dst, src []float32, rows, cols, ds, ss int) { Evens(dst[:cols], src) },
	}
	for name, fn := range fns {
		for cols := 1; cols <= 70; cols++ {
			for _, rows := range []int{1, 3} {
				if name == "Evens" && rows > 1 {
					continue
				}
				for _, extra := range []int{0, 1} {
					ds, ss := cols+2, 2*cols+3
					src := make([]float32, (rows-1)*ss+2*cols-1+extra)
					for i := range src {
						src[i] = float32(i)
					}
					buf := make([]float32, (rows-1)*ds+cols+2*guard)
					for i := range buf {
						buf[i] = sentinel
					}
					fn(buf[guard:], src, rows, cols, ds, ss)
					for i, v := range buf {
						want := sentinel
						if r, c := (i-guard)/ds, (i-guard)%ds; i >= guard && r < rows && c < cols {
							want = src[r*ss+2*c]
						}
						if math.Float32bits(v) != math.Float32bits(want) {
							t.Fatalf("%s %dx%d len(src)=%d: buf[%d] = %v, want %v", name, rows, cols, len(src), i, v, want)
						}
					}
				}
			}
		}
	}
}
