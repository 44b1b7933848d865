package infer

import (
	"math/rand"
	"testing"
)

func TestMatMulActivations(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	for _, tt := range []struct{ a, b []int }{
		{[]int{6, 5, 4}, []int{6, 4, 3}},       // attention: heads*N batches
		{[]int{2, 3, 5, 4}, []int{2, 3, 4, 7}}, // 4-D: stored CNHW alike
		{[]int{5, 4}, []int{4, 2}},
	} {
		a, b := randSlice(r, prod(tt.a)), randSlice(r, prod(tt.b))
		ra := len(tt.a)
		m, k, n := tt.a[ra-2], tt.a[ra-1], tt.b[ra-1]
		batch := prod(tt.a[:ra-2])
		out := append(append([]int(nil), tt.a[:ra-1]...), n)
		want := make([]float32, prod(out))
		for bi := range batch {
			for i := range m {
				for j := range n {
					var s float64
					for p := range k {
						s += float64(a[(bi*m+i)*k+p]) * float64(b[(bi*k+p)*n+j])
					}
					want[(bi*m+i)*n+j] = float32(s)
				}
			}
		}
		ins := []*value{{shape: tt.a, buf: &buffer{data: stored(a, tt.a)}}, {shape: tt.b, buf: &buffer{data: stored(b, tt.b)}}}
		o := &execOp{p: &plan{n: tt.a[0]}, l: &layer{}}
		if err := o.setupMatMul(ins); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, prod(out))
		o.runMatMul(got)
		closeTo(t, "matmul", got, stored(want, out), 1e-5)
	}
}

func TestFoldConst(t *testing.T) {
	i64 := func(shape []int, v ...int64) *value { return &value{shape: shape, c: &constant{shape: shape, i: v}} }
	f32 := func(shape []int, v ...float32) *value { return &value{shape: shape, c: &constant{shape: shape, f: v}} }
	tests := []struct {
		l    *layer
		ins  []*value
		want *constant
	}{
		{&layer{typ: "ConstantOfShape", fill: &constant{i: []int64{1}}}, []*value{i64([]int{1}, 3)}, &constant{shape: []int{3}, i: []int64{1, 1, 1}}},
		{&layer{typ: "ConstantOfShape"}, []*value{i64([]int{2}, 1, 2)}, &constant{shape: []int{1, 2}, f: []float32{0, 0}}},
		{&layer{typ: "Equal"}, []*value{i64([]int{3}, 4, -1, -1), i64(nil, -1)}, &constant{shape: []int{3}, i: []int64{0, 1, 1}}},
		{&layer{typ: "Where"}, []*value{i64([]int{3}, 0, 1, 1), i64([]int{3}, 1, 1, 1), i64([]int{3}, 4, -1, -1)}, &constant{shape: []int{3}, i: []int64{4, 1, 1}}},
		{&layer{typ: "Expand"}, []*value{f32([]int{1, 1, 2}, 5, 6), i64([]int{3}, 3, 1, 1)}, &constant{shape: []int{3, 1, 2}, f: []float32{5, 6, 5, 6, 5, 6}}},
		{&layer{typ: "Div", kind: kBinary, arith: "Div"}, []*value{i64([]int{1}, 7), i64(nil, 2)}, &constant{shape: []int{1}, i: []int64{3}}},
		{&layer{typ: "Mul", kind: kBinary, arith: "Mul"}, []*value{f32([]int{2}, 1.5, 2), f32(nil, 2)}, &constant{shape: []int{2}, f: []float32{3, 4}}},
	}
	for _, tt := range tests {
		got, err := foldArith(tt.l, tt.ins)
		if err != nil {
			t.Fatalf("%s: %v", tt.l.typ, err)
		}
		if !equalShape(got.shape, tt.want.shape) || len(got.i) != len(tt.want.i) || len(got.f) != len(tt.want.f) {
			t.Fatalf("%s: got %+v, want %+v", tt.l.typ, got, tt.want)
		}
		for k := range got.i {
			if got.i[k] != tt.want.i[k] {
				t.Fatalf("%s: got %v, want %v", tt.l.typ, got.i, tt.want.i)
			}
		}
		closeTo(t, tt.l.typ, got.f, tt.want.f, 0)
	}
}
