package gemm

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkStreamRead measures the memory bandwidth a plain streaming read
// reaches on 1 and 2 threads (each sums its own half of a buffer far larger
// than L3 with the vector float64 sum): the bound of a GEMV whose weights
// come from memory, such as a batch-1 classifier. Sizes in MiB; the 1 MiB
// one stays in L2, the 8 MiB in L3.
func BenchmarkStreamRead(b *testing.B) {
	if sum64Vec == nil {
		b.Skip("no vector sum on this CPU or build")
	}
	for _, mib := range []int{1, 8, 256} {
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dMiB/%dt", mib, th), func(b *testing.B) {
				x := make([]float32, mib<<20/4)
				for i := range x {
					x[i] = float32(i & 7)
				}
				per := len(x) / th
				for b.Loop() {
					var wg sync.WaitGroup
					for t := range th {
						wg.Go(func() { _ = sum64Vec(&x[t*per], per&^31) })
					}
					wg.Wait()
				}
				b.ReportMetric(float64(len(x))*4*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
