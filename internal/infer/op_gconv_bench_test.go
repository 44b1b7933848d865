package infer

import (
	"math/rand"
	"testing"
)

// BenchmarkDepthwisePlane compares the 3x3 depthwise plane kernel with the
// general one on a 56x56 plane (MobileNetV2's stage 2), stride 1 and 2.
func BenchmarkDepthwisePlane(b *testing.B) {
	r := rand.New(rand.NewSource(9))
	for _, s := range []int{1, 2} {
		g := geom{h: 56, w: 56, kh: 3, kw: 3, sh: s, sw: s, pt: 1, pl: 1}
		g.oh, g.ow = (56+2-3)/s+1, (56+2-3)/s+1
		in, wk := randSlice(r, 56*56), randSlice(r, 9)
		out := make([]float32, g.oh*g.ow)
		ox0, ox1 := make([]int, 3), make([]int, 3)
		for kx := range 3 {
			lo := 0
			for lo < g.ow && lo*s-1+kx < 0 {
				lo++
			}
			hi := lo
			for hi < g.ow && hi*s-1+kx < 56 {
				hi++
			}
			ox0[kx], ox1[kx] = lo, hi
		}
		zero := make([]float32, 56)
		name := map[int]string{1: "s1", 2: "s2"}[s]
		b.Run(name+"/general", func(b *testing.B) {
			for b.Loop() {
				convPlane(out, in, wk, g, ox0, ox1)
			}
		})
		b.Run(name+"/3x3", func(b *testing.B) {
			for b.Loop() {
				convPlane3x3(out, in, wk, g, zero)
			}
		})
	}
}
