package dwconv

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkRun times one plane of MobileNetV2's and EfficientNet-B0's
// depthwise layers per kernel (Impl/Geometry); compare with benchstat.
func BenchmarkRun(b *testing.B) {
	r := rand.New(rand.NewSource(4))
	for _, kern := range Kernels() {
		for _, s := range []struct{ hw, k, s int }{{112, 3, 1}, {112, 3, 2}, {56, 3, 1}, {28, 5, 1}, {14, 3, 2}, {14, 5, 2}, {7, 3, 1}, {7, 5, 1}} {
			p := s.k / 2
			g := geomFor(s.hw, s.hw, s.k, s.s, p, p, p, p)
			c := New(g, 1, 0, 6, kern)
			src, w, bias := randSlice(r, s.hw*s.hw), randSlice(r, s.k*s.k), randSlice(r, 1)
			dst := make([]float32, g.OH*g.OW)
			b.Run(fmt.Sprintf("%s/%dx%d-k%d-s%d", kern, s.hw, s.hw, s.k, s.s), func(b *testing.B) {
				b.SetBytes(int64(4 * (len(src) + len(dst))))
				for b.Loop() {
					c.Run(dst, 0, src, 0, w, bias)
				}
			})
		}
	}
}
