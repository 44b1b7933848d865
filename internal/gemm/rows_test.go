package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRowBlocks checks RowBlock with MulSerialEpilogue and with
// PackB/MulPacked against a plain-Go product with bias and clamp, on every
// kernel: row blocks of one and several panels and a short last one, k
// below and above the in-place limit, n with and without the gemv's
// columns.
func TestRowBlocks(t *testing.T) {
	for _, kern := range kernelNames() {
		for _, s := range [][3]int{{37, 16, 196}, {100, 160, 49}, {29, 80, 50}, {64, 300, 33}, {25, 7, 1}, {40, 96, 1500}} {
			m, k, n := s[0], s[1], s[2]
			rng := rand.New(rand.NewPCG(uint64(m), uint64(k)))
			a, b, bias := make([]float32, m*k), make([]float32, k*n), make([]float32, m)
			for _, v := range [][]float32{a, b, bias} {
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
			}
			want := make([]float64, m*n)
			for i := range m {
				for j := range n {
					s := float64(bias[i])
					for p := range k {
						s += float64(a[i*k+p]) * float64(b[p*n+j])
					}
					want[i*n+j] = min(max(s, 0), 6)
				}
			}
			pa := packA(a, m, k, kernelByName(kern))
			var buf []float32
			packed := PackB(&buf, pa, b, n)
			mr := pa.PanelRows()
			for _, rows := range []int{mr, 2 * mr, m} {
				for i0 := 0; i0 < m; i0 += rows {
					i1 := min(m, i0+rows)
					ep := Epilogue{Bias: bias[i0:i1], Act: Act{Kind: ActClamp, Lo: 0, Hi: 6}}
					for _, viaPack := range []bool{false, true} {
						if viaPack && !packed {
							continue
						}
						c := make([]float32, (i1-i0)*n)
						if viaPack {
							MulPacked(c, pa.RowBlock(i0, i1), buf, n, ep)
						} else {
							MulSerialEpilogue(c, pa.RowBlock(i0, i1), b, n, ep)
						}
						for i := range c {
							if w := want[i0*n+i]; math.Abs(float64(c[i])-w) > 1e-4*(1+math.Abs(w)) {
								t.Fatalf("%s %v rows [%d, %d) packed %v: c[%d] = %g, want %g", kern, s, i0, i1, viaPack, i, c[i], w)
							}
						}
					}
				}
			}
			if k > directK && n > 1 && n <= 1024 && !packed {
				t.Errorf("%s %v: B not packed", kern, s)
			}
		}
	}
	pa := PackA(make([]float32, 40*3), 40, 3)
	for name, f := range map[string]func(){
		"unaligned": func() { pa.RowBlock(1, 20) },
		"empty":     func() { pa.RowBlock(0, 0) },
		"past m":    func() { pa.RowBlock(0, 41) },
		"short c":   func() { MulSerialEpilogue(make([]float32, 3), pa, make([]float32, 6), 2, Epilogue{}) },
		"short bias": func() {
			MulSerialEpilogue(make([]float32, 80), pa, make([]float32, 6), 2, Epilogue{Bias: make([]float32, 39)})
		},
		"short residual": func() {
			MulPacked(make([]float32, 80), pa, make([]float32, 1<<12), 2, Epilogue{Residual: make([]float32, 79)})
		},
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
