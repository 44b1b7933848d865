package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkMulWino runs the products of ResNet-50's Winograd layers as a
// tile block makes them (MulSerial, no epilogue; m = k = channels, n =
// tiles per block or chunk), with B read in place where k <= directK
// ("direct") and packed ("packed"), side by side in one process.
func BenchmarkMulWino(b *testing.B) {
	for _, s := range [][2]int{{64, 49}, {64, 50}, {128, 49}, {256, 49}, {512, 16}} {
		ch, n := s[0], s[1]
		for _, mode := range []string{"direct", "packed"} {
			if mode == "direct" && ch > directK {
				continue
			}
			b.Run(fmt.Sprintf("%s/%dx%dx%d", mode, ch, ch, n), func(b *testing.B) {
				saved := directK
				defer func() { directK = saved }()
				if mode == "packed" {
					directK = 0
				}
				rng := rand.New(rand.NewPCG(1, 2))
				pa := PackA(randSlice(rng, ch*ch), ch, ch) // the kernel the Winograd weights get
				bm := randSlice(rng, ch*n)
				c := make([]float32, ch*n)
				for b.Loop() {
					MulSerial(c, pa, bm, n)
				}
				b.ReportMetric(2*float64(ch*ch*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
