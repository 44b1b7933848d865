package infer

import (
	"path/filepath"
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
