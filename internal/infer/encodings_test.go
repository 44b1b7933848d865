package infer

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/onnx/onnxtest"
)

// Geometry of the crafted model: x [N,3,8,8] -> Conv(w [4,3,3,3], b [4],
// pads 1) -> Reshape(shape [0,-1]) -> y [N,256].
const (
	encCin, encCout, encHW = 3, 4, 8
)

// encodedConv returns the model with every initializer (float weights and
// bias, int64 shape) stored as enc, and its weights and bias.
func encodedConv(enc onnxtest.Encoding) (onnxtest.Graph, []float64, []float64) {
	r := rand.New(rand.NewPCG(14, 1))
	w := make([]float64, encCout*encCin*9)
	for i := range w {
		w[i] = float64(float32(r.Float64()*2 - 1)) // exactly representable in float32
	}
	b := []float64{0.25, -0.5, 0.125, 1}
	g := onnxtest.Graph{
		Inputs:  []onnxtest.Value{{Name: "x", Dims: []int64{-1, encCin, encHW, encHW}}},
		Outputs: []onnxtest.Value{{Name: "y", Dims: []int64{-1, encCout * encHW * encHW}}},
		Initializers: []onnxtest.Tensor{
			{Name: "w", Type: onnxtest.Float, Dims: []int64{encCout, encCin, 3, 3}, Floats: w, Enc: enc, Location: "w.bin"},
			{Name: "b", Type: onnxtest.Float, Dims: []int64{encCout}, Floats: b, Enc: enc, Location: "data/b.bin"},
			{Name: "shape", Type: onnxtest.Int64, Dims: []int64{2}, Ints: []int64{0, -1}, Enc: enc, Location: "shape.bin"},
		},
		Nodes: []onnxtest.Node{
			{Op: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}, Attrs: []onnxtest.Attr{{Name: "pads", Ints: []int64{1, 1, 1, 1}}}},
			{Op: "Reshape", Inputs: []string{"c", "shape"}, Outputs: []string{"y"}},
		},
	}
	return g, w, b
}

// refConv is the convolution by its definition, in float64: out[o, y, x] =
// b[o] + sum over c, i, j of w[o, c, i, j] * in[c, y+i-1, x+j-1], zero
// outside the input.
func refConv(in []float32, w, b []float64) []float64 {
	out := make([]float64, encCout*encHW*encHW)
	for o := 0; o < encCout; o++ {
		for y := 0; y < encHW; y++ {
			for x := 0; x < encHW; x++ {
				s := b[o]
				for c := 0; c < encCin; c++ {
					for i := 0; i < 3; i++ {
						for j := 0; j < 3; j++ {
							yy, xx := y+i-1, x+j-1
							if yy < 0 || yy >= encHW || xx < 0 || xx >= encHW {
								continue
							}
							s += w[((o*encCin+c)*3+i)*3+j] * float64(in[(c*encHW+yy)*encHW+xx])
						}
					}
				}
				out[(o*encHW+y)*encHW+x] = s
			}
		}
	}
	return out
}

// TestTensorEncodings loads the crafted model with its tensors in every
// encoding (external data through LoadFile, from files beside the model)
// and checks that the logits equal raw_data's exactly and a float64
// reference convolution closely.
func TestTensorEncodings(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2))
	px := make([][]float32, 2)
	for i := range px {
		px[i] = make([]float32, encCin*encHW*encHW)
		for k := range px[i] {
			px[i][k] = float32(r.Float64()*4 - 2)
		}
	}
	var raw []float32
	for _, enc := range []onnxtest.Encoding{onnxtest.Raw, onnxtest.Packed, onnxtest.Unpacked, onnxtest.External} {
		t.Run(enc.String(), func(t *testing.T) {
			g, w, b := encodedConv(enc)
			dir := t.TempDir()
			path := filepath.Join(dir, "conv.onnx")
			if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, in := range g.Initializers {
				if err := os.WriteFile(filepath.Join(dir, in.Location), in.RawBytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(path, onnxtest.Model(13, g), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := LoadFile(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := logitsFlat(t, c, px)
			if enc == onnxtest.Raw {
				raw = got
			} else if raw == nil || len(got) != len(raw) {
				t.Fatalf("%d logits, raw_data gave %d", len(got), len(raw))
			}
			for i := range got {
				if got[i] != raw[i] {
					t.Fatalf("logit %d = %g, raw_data gives %g", i, got[i], raw[i])
				}
			}
			// 1e-5 of the largest output: float32 sums of 27 products of
			// values below 2 (Winograd adds a few roundings) stay well
			// inside; a wrong weight or a zeroed one is off by ~1e-1.
			per := encCout * encHW * encHW
			for n := range px {
				want := refConv(px[n], w, b)
				worst, scale := 0.0, 0.0
				for i, v := range want {
					worst = max(worst, math.Abs(float64(got[n*per+i])-v))
					scale = max(scale, math.Abs(v))
				}
				if worst > 1e-5*scale {
					t.Errorf("image %d: max error %.3g against the float64 reference (max |out| %.3g)", n, worst, scale)
				}
			}
		})
	}
}
