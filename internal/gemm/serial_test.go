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

// TestCols checks PackedA.Cols on each kernel's tile shapes: whole tiles,
// narrow tails, the gemv's last columns.
func TestCols(t *testing.T) {
	want := map[string]map[int]int{
		"avx512w": {16: 16, 25: 48, 32: 48, 48: 48, 49: 49, 50: 50, 51: 51, 52: 52, 53: 64, 64: 64, 96: 96, 196: 196, 112: 112, 1024: 1024, 1031: 1056, 1040: 1056},
		"avx512":  {16: 16, 25: 32, 32: 32, 49: 49, 52: 52, 60: 64, 64: 64},
		"avx2":    {16: 16, 25: 32, 49: 64, 64: 64},
		"neon":    {4: 4, 12: 12, 16: 16, 25: 28, 49: 52, 64: 64},
		"generic": {1: 4, 5: 8, 16: 16, 49: 52},
	}
	for _, name := range kernelNames() {
		pa := packA(make([]float32, 64*64), 64, 64, kernelByName(name))
		for n, w := range want[name] {
			if got := pa.Cols(n); got != w {
				t.Errorf("%s: Cols(%d) = %d, want %d", name, n, got, w)
			}
		}
	}
}
