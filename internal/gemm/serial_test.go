package gemm

import (
	"math/rand/v2"
	"testing"
)

// TestMulSerial checks MulSerial against the reference on every kernel,
// for the shapes of Winograd's tile blocks (n a few dozen, k and m up to
// 512) and odd ones, inside a Parallel as the Winograd layers call it,
// with guard bands around C; and that it panics on impossible shapes.
func TestMulSerial(t *testing.T) {
	shapes := [][3]int{{64, 64, 48}, {128, 128, 49}, {256, 256, 32}, {512, 512, 16}, {37, 300, 97}, {5, 3, 1}, {13, 17, 50}}
	for _, kern := range kernelNames() {
		t.Run(kern, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			probs := make([]*problem, len(shapes))
			backs := make([][]float32, len(shapes))
			for i, s := range shapes {
				probs[i] = newProblem(rng, s[0], s[1], s[2], "plain")
				backs[i] = make([]float32, guard+s[0]*s[2]+guard)
				for j := range backs[i] {
					backs[i][j] = sentinel
				}
			}
			Parallel(len(shapes), 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					p := probs[i]
					pa := packA(p.a, p.m, p.k, kernelByName(kern))
					MulSerial(backs[i][guard:guard+p.m*p.n], pa, p.b, p.n)
				}
			})
			for i, p := range probs {
				p.check(t, backs[i], guard, nil)
			}
		})
	}
	pa := PackA(make([]float32, 6), 2, 3)
	for name, f := range map[string]func(){
		"n=0":     func() { MulSerial(make([]float32, 2), pa, make([]float32, 3), 0) },
		"short b": func() { MulSerial(make([]float32, 4), pa, make([]float32, 5), 2) },
		"short c": func() { MulSerial(make([]float32, 3), pa, make([]float32, 6), 2) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			f()
		})
	}
}
