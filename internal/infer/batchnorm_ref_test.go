package infer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// TestBatchNormEpsilon checks BatchNormalization's epsilon attribute
// against a few lines of float64 arithmetic: every torch fixture uses
// 1e-5, so a loader that ignored the attribute would pass the parity
// suite. Small variances (1e-4 to 2e-3) make epsilon matter. Two places:
// on the raw input (a ResNet v2 stem, an affine layer of its own) and
// after a 1x1 convolution (folded into it). bench/ort/oracle checks the
// same against ONNX Runtime.
func TestBatchNormEpsilon(t *testing.T) {
	const size, n, cout = 6, 2, 4
	r := rand.New(rand.NewPCG(8, 9))
	uni := func(k int, lo, hi float64) []float32 {
		v := make([]float32, k)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return v
	}
	x := uni(n*3*size*size, -2, 2)
	w, b := uni(cout*3, -1, 1), uni(cout, -0.5, 0.5)
	for _, eps := range []float32{1e-3, 1e-5, 0.1} {
		for _, afterConv := range []bool{false, true} {
			t.Run(fmt.Sprintf("eps=%g/after_conv=%v", eps, afterConv), func(t *testing.T) {
				c := 3
				if afterConv {
					c = cout
				}
				scale, bias, mean, vr := uni(c, 0.5, 1.5), uni(c, -0.5, 0.5), uni(c, -0.2, 0.2), uni(c, 1e-4, 2e-3)
				m := testsupport.Model{Opset: 13, Size: size, Inits: []testsupport.Tensor{
					{Name: "s", Dims: []int64{int64(c)}, Data: scale}, {Name: "b", Dims: []int64{int64(c)}, Data: bias},
					{Name: "m", Dims: []int64{int64(c)}, Data: mean}, {Name: "v", Dims: []int64{int64(c)}, Data: vr},
				}}
				bnIn := "data"
				if afterConv {
					m.Inits = append(m.Inits, testsupport.Tensor{Name: "w", Dims: []int64{cout, 3, 1, 1}, Data: w},
						testsupport.Tensor{Name: "wb", Dims: []int64{cout}, Data: b})
					m.Nodes = append(m.Nodes, testsupport.NewNode("Conv", []string{"data", "w", "wb"}, []string{"conv"},
						testsupport.AInts("kernel_shape", 1, 1)))
					bnIn = "conv"
				}
				m.Nodes = append(m.Nodes, testsupport.NewNode("BatchNormalization", []string{bnIn, "s", "b", "m", "v"}, []string{"out"},
					testsupport.AFloat("epsilon", eps)))
				clf, err := LoadBytes(m.Encode(), Options{})
				if err != nil {
					t.Fatal(err)
				}
				per := 3 * size * size
				rows, err := clf.Logits(context.Background(), [][]float32{x[:per], x[per:]})
				if err != nil {
					t.Fatal(err)
				}
				var got, want []float32
				hw := size * size
				for i := range n {
					got = append(got, rows[i]...)
					for ch := range c {
						for p := range hw {
							v := float64(x[(i*3+ch%3)*hw+p])
							if afterConv {
								v = float64(b[ch])
								for ic := range 3 {
									v += float64(w[ch*3+ic]) * float64(x[(i*3+ic)*hw+p])
								}
							}
							y := float64(scale[ch])*(v-float64(mean[ch]))/math.Sqrt(float64(vr[ch])+float64(eps)) + float64(bias[ch])
							want = append(want, float32(y))
						}
					}
				}
				if len(got) != len(want) {
					t.Fatalf("%d outputs, want %d", len(got), len(want))
				}
				// parityLimit (tolerance_test.go); measured about 5e-8 here.
				if e := relL2(got, want); !(e < parityLimit) {
					t.Errorf("relative L2 %.3g against the formula, want < %g", e, parityLimit)
				} else {
					t.Logf("relative L2 %.3g", e)
				}
			})
		}
	}
}
