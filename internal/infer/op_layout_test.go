package infer

import (
	"math"
	"math/rand"
	"testing"
)

func TestAvgPool(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, tt := range []struct {
		h, w, k, s, p int
		ceil, incl    bool
	}{
		{8, 8, 2, 2, 0, false, false}, // DenseNet's transition
		{7, 9, 3, 2, 1, false, true},
		{7, 9, 3, 2, 1, false, false},
		{7, 8, 3, 2, 1, true, true}, // a ceil_mode overhang is never counted
		{5, 5, 3, 1, 1, true, false},
	} {
		planes := 3
		x := randSlice(r, planes*tt.h*tt.w)
		oh := poolOut(tt.h, tt.k, tt.s, tt.p, tt.p, tt.ceil)
		ow := poolOut(tt.w, tt.k, tt.s, tt.p, tt.p, tt.ceil)
		want := make([]float32, planes*oh*ow)
		for p := range planes {
			for y := range oh {
				for xo := range ow {
					var s float64
					cnt := 0
					for ky := range tt.k {
						for kx := range tt.k {
							iy, ix := y*tt.s-tt.p+ky, xo*tt.s-tt.p+kx
							inPad := iy >= -tt.p && iy < tt.h+tt.p && ix >= -tt.p && ix < tt.w+tt.p
							if iy >= 0 && iy < tt.h && ix >= 0 && ix < tt.w {
								s += float64(x[(p*tt.h+iy)*tt.w+ix])
								cnt++
							} else if tt.incl && inPad {
								cnt++
							}
						}
					}
					want[(p*oh+y)*ow+xo] = float32(s / float64(cnt))
				}
			}
		}
		g := geom{h: tt.h, w: tt.w, kh: tt.k, kw: tt.k, sh: tt.s, sw: tt.s, pt: tt.p, pl: tt.p, oh: oh, ow: ow}
		got := make([]float32, len(want))
		avgPool(got, x, planes, g, tt.p, tt.p, tt.incl)
		closeTo(t, "avgPool", got, want, 1e-6)
	}
}

func TestPadPlanes(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6} // one plane 2x3
	g := geom{h: 2, w: 3, pt: 1, pl: 0, oh: 4, ow: 5}
	got := make([]float32, 20)
	padPlanes(got, x, 1, g, -1)
	want := []float32{-1, -1, -1, -1, -1, 1, 2, 3, -1, -1, 4, 5, 6, -1, -1, -1, -1, -1, -1, -1}
	closeTo(t, "pad", got, want, 0)
}

func TestLayerNorm(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	c, rows := 24, 5
	x, scale, shift := randSlice(r, rows*c), randSlice(r, c), randSlice(r, c)
	want := make([]float32, len(x))
	for i := range rows {
		var m, v float64
		for _, e := range x[i*c : (i+1)*c] {
			m += float64(e) / float64(c)
		}
		for _, e := range x[i*c : (i+1)*c] {
			v += (float64(e) - m) * (float64(e) - m) / float64(c)
		}
		for j := range c {
			want[i*c+j] = float32((float64(x[i*c+j])-m)/math.Sqrt(v+1e-6)*float64(scale[j]) + float64(shift[j]))
		}
	}
	got := make([]float32, len(x))
	layerNorm(got, x, scale, shift, 1e-6)
	closeTo(t, "layerNorm", got, want, 1e-5)
}

// logicalAt reads a row-major tensor at a multi-index.
func logicalAt(x []float32, shape, idx []int) float32 {
	off := 0
	for i, d := range shape {
		off = off*d + idx[i]
	}
	return x[off]
}

// forEach visits every multi-index of shape in row-major order.
func forEach(shape []int, fn func(idx []int)) {
	idx := make([]int, len(shape))
	for range prod(shape) {
		fn(idx)
		for d := len(shape) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// runLayout plans and runs a layout layer on the logical input x.
func runLayout(t *testing.T, l *layer, x []float32, shape []int, extra ...*constant) []float32 {
	t.Helper()
	ins := []*value{{shape: shape, buf: &buffer{data: stored(x, shape)}}}
	for _, c := range extra {
		ins = append(ins, &value{shape: c.shape, c: c})
	}
	l.in = make([]string, len(ins))
	for i := range l.in {
		l.in[i] = string(rune('a' + i))
	}
	o := &execOp{p: &plan{n: shape[0]}, l: l}
	if err := o.setupLayout(ins); err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, o.out.buf.size)
	for _, s := range o.steps {
		if s.tmp != nil {
			s.tmp.data = make([]float32, s.tmp.size)
		}
	}
	o.runRelayout(ins[0].buf.data, dst)
	// Back to logical order.
	if len(o.out.shape) == 4 {
		sh := o.out.shape
		log := make([]float32, len(dst))
		n, c, hw := sh[0], sh[1], sh[2]*sh[3]
		for b := range n {
			for ci := range c {
				copy(log[(b*c+ci)*hw:(b*c+ci+1)*hw], dst[(ci*n+b)*hw:(ci*n+b+1)*hw])
			}
		}
		return log
	}
	return dst
}

func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, tt := range []struct {
		shape []int
		perm  []int64
	}{
		{[]int{2, 3, 4, 5}, []int64{0, 2, 3, 1}},       // NCHW -> NHWC (ConvNeXt)
		{[]int{2, 4, 5, 3}, []int64{0, 3, 1, 2}},       // and back
		{[]int{2, 2, 3, 4, 5}, []int64{0, 2, 1, 3, 4}}, // channel shuffle
		{[]int{2, 5, 6}, []int64{0, 2, 1}},
	} {
		x := randSlice(r, prod(tt.shape))
		got := runLayout(t, &layer{kind: kTranspose, axes: tt.perm}, x, tt.shape)
		out := make([]int, len(tt.perm))
		for i, p := range tt.perm {
			out[i] = tt.shape[p]
		}
		var want []float32
		forEach(out, func(idx []int) {
			src := make([]int, len(idx))
			for i, p := range tt.perm {
				src[p] = idx[i]
			}
			want = append(want, logicalAt(x, tt.shape, src))
		})
		closeTo(t, "transpose", got, want, 0)
	}
}

func TestSliceAndReduceMean(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	shape := []int{2, 6, 3, 4}
	x := randSlice(r, prod(shape))
	ints := func(v ...int64) *constant { return &constant{shape: []int{len(v)}, i: v} }
	// Channels 3..5 (ShuffleNet's split), and every other column backwards.
	got := runLayout(t, &layer{kind: kSlice}, x, shape, ints(3, -1), ints(6, -100), ints(1, 3), ints(1, -2))
	var want []float32
	forEach([]int{2, 3, 3, 2}, func(idx []int) {
		want = append(want, logicalAt(x, shape, []int{idx[0], 3 + idx[1], idx[2], 3 - 2*idx[3]}))
	})
	closeTo(t, "slice", got, want, 0)

	for _, keep := range []bool{false, true} {
		got = runLayout(t, &layer{kind: kReduceMean, axes: []int64{2, -1}, zero: keep}, x, shape)
		want = want[:0]
		forEach([]int{2, 6}, func(idx []int) {
			var s float64
			forEach([]int{3, 4}, func(hw []int) { s += float64(logicalAt(x, shape, []int{idx[0], idx[1], hw[0], hw[1]})) })
			want = append(want, float32(s/12))
		})
		closeTo(t, "reduceMean", got, want, 1e-6)
	}
}

func TestConcat(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, tt := range []struct {
		shapes [][]int
		axis   int
	}{
		{[][]int{{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 2, 4, 5}}, 1}, // channels (SqueezeNet, DenseNet)
		{[][]int{{2, 3, 4, 5}, {2, 3, 2, 5}}, -2},
		{[][]int{{2, 3, 4, 5}, {1, 3, 4, 5}}, 0},
		{[][]int{{2, 1, 6}, {2, 4, 6}}, 1}, // ViT's class token
	} {
		var ins []*value
		var xs [][]float32
		for _, s := range tt.shapes {
			x := randSlice(r, prod(s))
			xs = append(xs, x)
			ins = append(ins, &value{shape: s, buf: &buffer{data: stored(x, s)}})
		}
		l := &layer{typ: "Concat", axis: tt.axis, in: make([]string, len(ins))}
		o := &execOp{p: &plan{n: tt.shapes[0][0]}, l: l}
		if err := o.setupConcat(ins); err != nil {
			t.Fatal(err)
		}
		out := o.out.shape
		axis := (tt.axis + len(out)) % len(out)
		var want []float32
		forEach(out, func(idx []int) {
			j := append([]int(nil), idx...)
			for k, s := range tt.shapes {
				if j[axis] < s[axis] {
					want = append(want, logicalAt(xs[k], s, j))
					return
				}
				j[axis] -= s[axis]
			}
		})
		got := make([]float32, prod(out))
		o.runConcat(got)
		closeTo(t, "concat", got, stored(want, out), 0)
	}
}
