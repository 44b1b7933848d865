package imageprep

import (
	"sync"
	"testing"
)

// TestPrepareConcurrent runs Prepare from several goroutines (sharing the
// scratch pool and coefficient cache) and checks every result against a
// sequential run; run it with -race.
func TestPrepareConcurrent(t *testing.T) {
	names := []string{"dog-768x576.jpg", "tiny-60x45.png", "wide-1200x150.png", "exif-rot6-480x360.jpg", "palette-256x256.gif"}
	var data [][]byte
	var want [][]float32
	for _, n := range names {
		d := readImage(t, n)
		w := make([]float32, 3*224*224)
		if _, err := Prepare(d, imageNet, w); err != nil {
			t.Fatal(err)
		}
		data, want = append(data, d), append(want, w)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			dst := make([]float32, 3*224*224)
			for i := range 2 * len(names) {
				k := (g + i) % len(names)
				if _, err := Prepare(data[k], imageNet, dst); err != nil {
					t.Error(err)
					return
				}
				for j := range dst {
					if dst[j] != want[k][j] {
						t.Errorf("%s: element %d differs between runs", names[k], j)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
