package infer

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"runtime"
	"testing"
)

func TestScaledSourceRows(t *testing.T) {
	const k, n, hw = 4, 3, 5
	x, s := make([]float32, k*n*hw), make([]float32, k*n)
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	for i := range s {
		s[i] = 0.25 * float32(i+1)
	}
	for _, perImage := range []bool{false, true} {
		src := &scaledSource{x: x, s: s, n: n, hw: hw, perImage: perImage}
		for _, tt := range []struct{ r0, kc, j0, nc int }{
			{0, k, 0, n * hw}, {1, 2, 3, 9}, {3, 1, 14, 1}, {0, 4, 5, 5},
		} {
			dst := make([]float32, tt.kc*tt.nc)
			src.Rows(dst, tt.r0, tt.kc, tt.j0, tt.nc)
			for i := range tt.kc {
				for j := range tt.nc {
					r, c := tt.r0+i, tt.j0+j
					sr := r
					if perImage {
						sr = 0
					}
					if want := x[r*n*hw+c] * s[sr*n+c/hw]; dst[i*tt.nc+j] != want {
						t.Fatalf("perImage %v, %+v: B[%d,%d] = %g, want %g", perImage, tt, r, c, dst[i*tt.nc+j], want)
					}
				}
			}
		}
	}
}

func TestGroupConvPool(t *testing.T) {
	const n, c, h, w = 2, 3, 6, 5
	g := geom{c: c, h: h, w: w, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1, oh: h, ow: w}
	x, wt, bias := make([]float32, n*c*h*w), make([]float32, c*9), []float32{0.5, -1, 2}
	for i := range x {
		x[i] = float32(i%11)/4 - 1
	}
	for i := range wt {
		wt[i] = float32(i%5)/8 - 0.2
	}
	a := activation{kind: actSiLU}
	eachKernel(t, func(kern string) {
		out, pool := make([]float32, len(x)), make([]float32, c*n)
		groupConv(out, x, newGroupConv(g, 1, a), wt, bias, n, g, 1, c, c, a, pool)
		want := make([]float32, c*n)
		for p := range want { // the plain pool of the output, CNHW
			var sum float64
			for _, v := range out[p*h*w : (p+1)*h*w] {
				sum += float64(v)
			}
			want[p] = float32(sum / (h * w))
		}
		closeTo(t, "pool/"+kern, pool, want, 1e-6)
	})
}

// TestSqueezeExciteFused checks that EfficientNet's squeeze-and-excite
// blocks lose their Mul (but before few input channels) and
// GlobalAveragePool passes (TestFamiliesParity
// checks the results).
func TestSqueezeExciteFused(t *testing.T) {
	c, err := LoadFile(filepath.Join(fixtures, "families", "efficientnet-opset13.onnx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fused, reader := 0, map[string]*layer{}
	for _, l := range c.net.layers {
		for _, in := range l.in {
			reader[in] = l
		}
		if l.seScale != "" {
			fused++
		}
	}
	for _, l := range c.net.layers {
		if r := reader[l.out]; l.kind == kBinary && l.arith == "Mul" && r != nil && r.cin > seInPlaceK {
			t.Errorf("layer %s: a Mul is left before a convolution of %d input channels", l.name, r.cin)
		}
	}
	p, err := newPlan(c.net, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	pooled := 0
	for _, o := range p.ops {
		if o.l.kind == kGAP && o.pooled {
			pooled++
		}
	}
	if fused == 0 || pooled < fused {
		t.Errorf("%d products fused into a convolution, %d pools into a grouped convolution", fused, pooled)
	}
}

// seCase is a squeeze-and-excite block before a 1x1 projection: x (cin x
// h x w) scaled per channel by sigmoid(fc(GAP(x))), projected to cout
// channels, plus a residual (another 1x1 convolution of x) or not.
type seCase struct {
	n, cin, cout, h, w int
	res                bool
}

// seNet builds the block unfused: GAP, the excite, Mul, the projection
// (and the residual's convolution and Add).
func seNet(tt seCase, r *rand.Rand) *network {
	conv := func(name, in, out string, cin, cout int, a activation) *layer {
		return &layer{kind: kConv, typ: "Conv", name: name, in: []string{in}, out: out, cin: cin, cout: cout, kh: 1, kw: 1, sh: 1, sw: 1,
			w: randSlice(r, cout*cin), bias: randSlice(r, cout), act: a}
	}
	net := &network{consts: map[string]*constant{}, input: "x", inputShape: []int{tt.cin, tt.h, tt.w}, output: "p"}
	net.layers = []*layer{
		{kind: kGAP, typ: "GlobalAveragePool", name: "gap", in: []string{"x"}, out: "g"},
		conv("fc", "g", "s", tt.cin, tt.cin, activation{kind: actSigmoid}),
		{kind: kBinary, typ: "Mul", arith: "Mul", name: "mul", in: []string{"x", "s"}, out: "y"},
		conv("proj", "y", "p", tt.cin, tt.cout, activation{}),
	}
	if tt.res {
		net.layers[3].out = "q"
		net.layers = append(net.layers, conv("short", "x", "r", tt.cin, tt.cout, activation{}),
			&layer{kind: kBinary, typ: "Add", arith: "Add", name: "add", in: []string{"q", "r"}, out: "p"})
	}
	return net
}

// seRef computes the block on NCHW x from the network's weights in float64.
func seRef(tt seCase, net *network, x []float32) []float32 {
	fc, proj := net.layers[1], net.layers[3]
	hw := tt.h * tt.w
	out := make([]float32, tt.n*tt.cout*hw)
	for b := range tt.n {
		g := make([]float64, tt.cin)
		for c := range tt.cin {
			for _, v := range x[(b*tt.cin+c)*hw : (b*tt.cin+c+1)*hw] {
				g[c] += float64(v)
			}
			g[c] /= float64(hw)
		}
		s := make([]float64, tt.cin)
		for o := range tt.cin {
			v := float64(fc.bias[o])
			for c := range tt.cin {
				v += float64(fc.w[o*tt.cin+c]) * g[c]
			}
			s[o] = 1 / (1 + math.Exp(-v))
		}
		for o := range tt.cout {
			for i := range hw {
				v := float64(proj.bias[o])
				for c := range tt.cin {
					xv := float64(x[(b*tt.cin+c)*hw+i])
					v += float64(proj.w[o*tt.cin+c]) * xv * s[c]
					if tt.res {
						sh := net.layers[4]
						v += float64(sh.w[o*tt.cin+c]) * xv
					}
				}
				if tt.res {
					v += float64(net.layers[4].bias[o])
				}
				out[(b*tt.cout+o)*hw+i] = float32(v)
			}
		}
	}
	return out
}

// TestSEProjection checks the 1x1 projection with the squeeze-and-excite
// product fused into it (fuseSEScale) against the plain-Go definition:
// odd channel counts above gemm's in-place limit, planes under seMinCols
// (the scaled copy, cut between threads) and over it (scaledSource inside
// the GEMM at batch 1), batch 1 and 3, with and without a residual, on 1
// and 2 threads.
func TestSEProjection(t *testing.T) {
	cases := []seCase{
		{1, 70, 13, 7, 7, false}, {1, 97, 40, 7, 7, true}, {3, 70, 25, 7, 7, true},
		{1, 67, 19, 14, 14, true}, {1, 65, 33, 17, 17, false}, {2, 66, 9, 17, 17, true},
		{1, 1152, 192, 7, 7, true}, // EfficientNet-B0's last stage
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for ci, tt := range cases {
		for _, procs := range []int{1, 2} {
			runtime.GOMAXPROCS(procs)
			name := fmt.Sprintf("case%d/procs%d", ci, procs)
			eachKernel(t, func(kern string) {
				r := rand.New(rand.NewSource(int64(ci)))
				net := seNet(tt, r)
				x := randSlice(r, tt.n*tt.cin*tt.h*tt.w)
				want := seRef(tt, net, x)
				fuse(net)
				fused := 0
				for _, l := range net.layers {
					if l.seScale != "" {
						fused++
					}
				}
				if fused != 1 {
					t.Fatalf("%s: the product was not fused into the projection", name)
				}
				packWeights(net)
				_, got := runNet(t, net, tt.n, x)
				// float32 sums of cin products of unit-sized terms.
				closeTo(t, name+"/"+kern, got, want, max(2e-5, 1e-7*float64(tt.cin)))
			})
		}
	}
}
