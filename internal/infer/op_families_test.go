package infer

import (
	"math"
	"math/rand"
	"testing"
)

// Unit tests of the family operators against plain-Go definitions on
// logical (row-major NCHW) tensors.

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// stored converts a logical tensor to its stored layout: CNHW when 4-D.
func stored(x []float32, shape []int) []float32 {
	if len(shape) != 4 {
		return x
	}
	n, c, hw := shape[0], shape[1], shape[2]*shape[3]
	out := make([]float32, len(x))
	for b := range n {
		for ci := range c {
			copy(out[(ci*n+b)*hw:(ci*n+b+1)*hw], x[(b*c+ci)*hw:(b*c+ci+1)*hw])
		}
	}
	return out
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= tol*(1+math.Abs(float64(want[i])))) {
			t.Fatalf("%s: [%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func TestGroupConv(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, tt := range []struct{ n, cin, cout, group, h, w, k, s, p int }{
		{2, 6, 6, 6, 9, 7, 3, 1, 1},   // depthwise 3x3
		{2, 6, 6, 6, 9, 8, 3, 2, 1},   // depthwise stride 2
		{1, 4, 4, 4, 10, 10, 7, 1, 3}, // ConvNeXt's 7x7
		{2, 8, 4, 2, 6, 5, 3, 1, 0},   // grouped, 4 channels per group
		{1, 6, 12, 3, 5, 5, 1, 2, 0},  // grouped 1x1 with a stride
	} {
		cpg, opg := tt.cin/tt.group, tt.cout/tt.group
		x := randSlice(r, tt.n*tt.cin*tt.h*tt.w)
		w := randSlice(r, tt.cout*cpg*tt.k*tt.k)
		bias := randSlice(r, tt.cout)
		oh, ow := (tt.h+2*tt.p-tt.k)/tt.s+1, (tt.w+2*tt.p-tt.k)/tt.s+1
		want := make([]float32, tt.n*tt.cout*oh*ow)
		for b := range tt.n {
			for o := range tt.cout {
				for y := range oh {
					for xo := range ow {
						s := float64(bias[o])
						for ci := range cpg {
							ic := (o/opg)*cpg + ci
							for ky := range tt.k {
								for kx := range tt.k {
									iy, ix := y*tt.s-tt.p+ky, xo*tt.s-tt.p+kx
									if iy >= 0 && iy < tt.h && ix >= 0 && ix < tt.w {
										s += float64(x[((b*tt.cin+ic)*tt.h+iy)*tt.w+ix]) * float64(w[((o*cpg+ci)*tt.k+ky)*tt.k+kx])
									}
								}
							}
						}
						want[((b*tt.cout+o)*oh+y)*ow+xo] = float32(min(max(s, 0), 6))
					}
				}
			}
		}
		g := geom{c: tt.cin, h: tt.h, w: tt.w, kh: tt.k, kw: tt.k, sh: tt.s, sw: tt.s, pt: tt.p, pl: tt.p, oh: oh, ow: ow}
		a := activation{kind: actClip, lo: 0, hi: 6}
		eachKernel(t, func(kern string) {
			got := make([]float32, len(want))
			groupConv(got, stored(x, []int{tt.n, tt.cin, tt.h, tt.w}), newGroupConv(g, cpg, a), w, bias, tt.n, g, cpg, tt.cout, tt.group, a, nil)
			closeTo(t, "groupConv/"+kern, got, stored(want, []int{tt.n, tt.cout, oh, ow}), 1e-5)
		})
	}
}

func TestActivations(t *testing.T) {
	x := []float32{-7, -3, -1, -0.25, 0, 0.5, 2, 3.5, 8}
	for _, tt := range []struct {
		a   activation
		def func(float64) float64
	}{
		{activation{kind: actRelu}, func(v float64) float64 { return math.Max(v, 0) }},
		{activation{kind: actClip, lo: -1, hi: 3}, func(v float64) float64 { return math.Min(math.Max(v, -1), 3) }},
		{activation{kind: actSigmoid}, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }},
		{activation{kind: actHardSigmoid, alpha: 1.0 / 6, beta: 0.5}, func(v float64) float64 { return math.Max(0, math.Min(1, v/6+0.5)) }},
		{activation{kind: actHardSwish}, func(v float64) float64 { return v * math.Max(0, math.Min(1, v/6+0.5)) }},
		{activation{kind: actSiLU}, func(v float64) float64 { return v / (1 + math.Exp(-v)) }},
		{activation{kind: actErf}, math.Erf},
	} {
		want := make([]float32, len(x))
		for i, v := range x {
			want[i] = float32(tt.def(float64(v)))
		}
		got := make([]float32, len(x))
		applyActivation(got, x, tt.a)
		closeTo(t, "activation", got, want, 1e-6)
	}
}

// binaryCase is an operand: a shape, and whether it is a constant.
type binaryCase struct {
	shape []int
	konst bool
}

func TestBroadcast(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, tt := range []struct {
		arith string
		a, b  binaryCase
	}{
		{"Mul", binaryCase{[]int{2, 3, 4, 5}, false}, binaryCase{[]int{2, 3, 1, 1}, false}}, // squeeze-and-excite
		{"Mul", binaryCase{[]int{2, 3, 1, 1}, false}, binaryCase{[]int{2, 3, 4, 5}, false}},
		{"Add", binaryCase{[]int{2, 3, 4, 5}, false}, binaryCase{[]int{3, 1, 1}, true}}, // per-channel bias
		{"Sub", binaryCase{[]int{2, 3, 4, 5}, false}, binaryCase{[]int{2, 3, 4, 1}, false}},
		{"Div", binaryCase{[]int{2, 3, 4, 5}, false}, binaryCase{[]int{1, 3, 4, 5}, true}},
		{"Add", binaryCase{[]int{1, 3, 4, 5}, true}, binaryCase{[]int{2, 3, 4, 5}, false}},
		{"Pow", binaryCase{[]int{2, 7}, false}, binaryCase{nil, true}},
		{"Mul", binaryCase{[]int{2, 5, 7}, false}, binaryCase{[]int{7}, true}},
		{"Add", binaryCase{[]int{2, 5, 7}, false}, binaryCase{[]int{2, 5, 7}, false}},
	} {
		out, err := broadcastShape(tt.a.shape, tt.b.shape)
		if err != nil {
			t.Fatal(err)
		}
		ops := [2]binaryCase{tt.a, tt.b}
		var data [2][]float32
		var ins []*value
		for k, op := range ops {
			data[k] = randSlice(r, prod(op.shape))
			if tt.arith == "Pow" && k == 0 {
				for i := range data[k] {
					data[k][i] = float32(math.Abs(float64(data[k][i])))
				}
			}
			if tt.arith == "Div" && k == 1 {
				for i := range data[k] {
					data[k][i] += 3
				}
			}
			v := &value{shape: op.shape}
			if op.konst {
				v.c = &constant{shape: op.shape, f: data[k]}
			} else {
				v.buf = &buffer{data: stored(data[k], op.shape)}
			}
			ins = append(ins, v)
		}
		want := make([]float32, prod(out))
		idx := make([]int, len(out))
		at := func(shape []int) int {
			off := 0
			for i, d := range shape {
				j := idx[len(out)-len(shape)+i]
				if d == 1 {
					j = 0
				}
				off = off*d + j
			}
			return off
		}
		for i := range want {
			rem := i
			for d := len(out) - 1; d >= 0; d-- {
				idx[d] = rem % out[d]
				rem /= out[d]
			}
			x, y := float64(data[0][at(tt.a.shape)]), float64(data[1][at(tt.b.shape)])
			want[i] = float32(map[string]float64{"Add": x + y, "Sub": x - y, "Mul": x * y, "Div": x / y, "Pow": math.Pow(x, y)}[tt.arith])
		}
		o := &execOp{p: &plan{n: out[0]}, l: &layer{in: []string{"a", "b"}}}
		if err := o.setupBinary(ins, tt.arith); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, prod(out))
		o.bin.run(got, o.ins)
		closeTo(t, tt.arith, got, stored(want, out), 1e-6)
	}
}
