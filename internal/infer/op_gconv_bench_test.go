package infer

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkDepthwisePlane compares the depthwise plane kernels, register
// taps against one pass per tap, on a 56x56 plane (MobileNetV2's stage 2).
func BenchmarkDepthwisePlane(b *testing.B) {
	r := rand.New(rand.NewSource(9))
	for _, tt := range []struct{ k, s int }{{3, 1}, {3, 2}} {
		k, s, p := tt.k, tt.s, tt.k/2
		g := geom{h: 56, w: 56, kh: k, kw: k, sh: s, sw: s, pt: p, pl: p}
		g.oh, g.ow = (56+2*p-k)/s+1, (56+2*p-k)/s+1
		in, wk := randSlice(r, 56*56), randSlice(r, k*k)
		out := make([]float32, g.oh*g.ow)
		ox0, ox1 := make([]int, k), make([]int, k)
		for kx := range k {
			lo := 0
			for lo < g.ow && lo*s-p+kx < 0 {
				lo++
			}
			hi := lo
			for hi < g.ow && hi*s-p+kx < 56 {
				hi++
			}
			ox0[kx], ox1[kx] = lo, hi
		}
		zero := make([]float32, 56)
		name := fmt.Sprintf("%dx%d/s%d", k, k, s)
		rows := make([][]float32, k)
		b.Run(name+"/general", func(b *testing.B) {
			for b.Loop() {
				convPlane(out, in, wk, g, ox0, ox1)
			}
		})
		b.Run(name+"/taps", func(b *testing.B) {
			for b.Loop() {
				convPlaneTaps(out, in, wk, g, zero, rows)
			}
		})
	}
}
