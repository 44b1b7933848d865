package infer

import (
	"errors"
	"fmt"

	"github.com/mlserve/mlserve/internal/onnx"
)

// Layout operators on activations: Transpose, Slice, ReduceMean, and the
// reshapes that change whether a batch is stored CNHW. Every 4-D activation
// is stored CNHW (channel-major, the batch inside), every other one
// row-major; physStrides says where each logical axis steps.

// physStrides returns, per logical axis of shape, its stride in the stored
// buffer.
func physStrides(shape []int) []int {
	st := make([]int, len(shape))
	order := make([]int, len(shape)) // physical axis -> logical axis
	for i := range order {
		order[i] = i
	}
	if len(shape) == 4 {
		order[0], order[1] = 1, 0
	}
	step := 1
	for q := len(order) - 1; q >= 0; q-- {
		st[order[q]] = step
		step *= shape[order[q]]
	}
	return st
}

// rowMajor returns row-major strides of shape.
func rowMajor(shape []int) []int {
	st := make([]int, len(shape))
	step := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = step
		step *= shape[i]
	}
	return st
}

// stridedCopy visits every index of dims in row-major order and copies (or
// with add, adds) src[off + idx.srcSt] to dst[idx.dstSt].
func stridedCopy(dst []float32, dstSt []int, src []float32, srcSt []int, off int, dims []int, add bool) {
	r := len(dims)
	if r == 0 || prod(dims) == 0 {
		if r == 0 {
			dst[0] = src[off]
		}
		return
	}
	idx := make([]int, r)
	d, s := 0, off
	ds, ss, n := dstSt[r-1], srcSt[r-1], dims[r-1]
	for {
		if add {
			for i := range n {
				dst[d+i*ds] += src[s+i*ss]
			}
		} else {
			for i := range n {
				dst[d+i*ds] = src[s+i*ss]
			}
		}
		k := r - 2
		for ; k >= 0; k-- {
			idx[k]++
			d += dstSt[k]
			s += srcSt[k]
			if idx[k] < dims[k] {
				break
			}
			d -= dstSt[k] * dims[k]
			s -= srcSt[k] * dims[k]
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// strided is the plan of a layout op: one or two strided copies.
type strided struct {
	relayout bool
	steps    []copyStep
	scale    float32 // ReduceMean: 1/count
}

type copyStep struct {
	dims, dstSt, srcSt []int
	off                int
	add                bool
	tmp                *buffer // destination of a first step, or nil
}

// normAxis resolves a negative axis of shape and checks its range.
func normAxis(a int64, shape []int) (int, error) {
	r := int64(len(shape))
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return 0, fmt.Errorf("axis %d out of range for %v", a, shape)
	}
	return int(a), nil
}

// setupRelayout plans a reshape to a 4-D activation at batch > 1: the
// values in logical order, then stored CNHW.
func (o *execOp) setupRelayout(x *value, shape []int) {
	o.relayout = true
	o.out = &value{shape: shape, buf: &buffer{size: prod(shape)}}
	if len(x.shape) == 4 {
		t := &buffer{size: prod(x.shape)}
		o.tmp = append(o.tmp, t)
		o.steps = append(o.steps, copyStep{dims: x.shape, dstSt: rowMajor(x.shape), srcSt: physStrides(x.shape), tmp: t})
	}
	o.steps = append(o.steps, copyStep{dims: shape, dstSt: physStrides(shape), srcSt: rowMajor(shape)})
}

// runRelayout runs the planned steps from src into dst.
func (o *execOp) runRelayout(src, dst []float32) {
	if o.scale != 0 {
		clear(dst)
	}
	for _, s := range o.steps {
		out := dst
		if s.tmp != nil {
			out = s.tmp.data
		}
		stridedCopy(out, s.dstSt, src, s.srcSt, s.off, s.dims, s.add)
		src = out
	}
	if o.scale != 0 {
		for i := range dst {
			dst[i] *= o.scale
		}
	}
}

// lowerLayout lowers Transpose, Slice and ReduceMean.
func lowerLayout(op onnx.Op, l *layer) (*layer, error) {
	n := op.Base()
	switch o := op.(type) {
	case *onnx.Transpose:
		l.kind, l.in, l.axes = kTranspose, n.Inputs[:1], o.Perm
	case *onnx.Slice:
		l.kind, l.in = kSlice, n.Inputs
		return l, wantInputs(n, 3, 5)
	case *onnx.ReduceMean:
		l.kind, l.in, l.zero, l.axes = kReduceMean, n.Inputs[:1], o.KeepDims, o.Axes
		if hasInput(n, 1) {
			l.in = n.Inputs[:2]
		}
	}
	return l, nil
}

// setupLayout plans Transpose, Slice and ReduceMean on the activation x;
// their other inputs must be constants when planning.
func (o *execOp) setupLayout(ins []*value) error {
	l, x := o.l, ins[0]
	o.ins = ins[:1]
	o.relayout = true
	r := len(x.shape)
	xs := physStrides(x.shape)
	norm := func(a int64) (int, error) { return normAxis(a, x.shape) }
	ints := func(i int) ([]int64, error) {
		if i >= len(ins) || l.in[i] == "" {
			return nil, nil
		}
		if ins[i].c == nil {
			return nil, fmt.Errorf("input %q must be known when planning", l.in[i])
		}
		return ins[i].c.ints(), nil
	}
	switch l.kind {
	case kTranspose:
		perm := l.axes
		if perm == nil {
			for i := r - 1; i >= 0; i-- {
				perm = append(perm, int64(i))
			}
		}
		if len(perm) != r {
			return fmt.Errorf("perm %v for a %d-D input", perm, r)
		}
		out, src := make([]int, r), make([]int, r)
		seen := make([]bool, r)
		for i, p := range perm {
			a, err := norm(p)
			if err != nil || seen[a] {
				return fmt.Errorf("perm %v is not a permutation", perm)
			}
			seen[a] = true
			out[i], src[i] = x.shape[a], xs[a]
		}
		o.out = &value{shape: out, buf: &buffer{size: prod(out)}}
		o.steps = []copyStep{{dims: out, dstSt: physStrides(out), srcSt: src}}
	case kSlice:
		starts, err := ints(1)
		if err != nil {
			return err
		}
		ends, err := ints(2)
		if err != nil {
			return err
		}
		axes, err := ints(3)
		if err != nil {
			return err
		}
		steps, err := ints(4)
		if err != nil {
			return err
		}
		return o.planSlice(x, starts, ends, axes, steps, norm)
	case kReduceMean:
		return o.planReduceMean(ins, ints, norm)
	}
	return nil
}

// planReduceMean plans a ReduceMean of x = ins[0] over the given axes (all
// when none): a strided accumulation scaled by 1/count.
func (o *execOp) planReduceMean(ins []*value, ints func(int) ([]int64, error), norm func(int64) (int, error)) error {
	l, x := o.l, ins[0]
	r, xs := len(x.shape), physStrides(x.shape)
	axes := l.axes
	if len(ins) > 1 {
		var err error
		if axes, err = ints(1); err != nil {
			return err
		}
		o.ins = ins[:1]
	}
	red := make([]bool, r)
	for _, a := range axes {
		i, err := norm(a)
		if err != nil {
			return err
		}
		red[i] = true
	}
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	var out []int
	count := 1
	for i, d := range x.shape {
		switch {
		case !red[i]:
			out = append(out, d)
		case l.zero:
			out = append(out, 1)
		}
		if red[i] {
			count *= d
		}
	}
	os := physStrides(out)
	dst := make([]int, r)
	for i, j := 0, 0; i < r; i++ {
		switch {
		case !red[i]:
			dst[i] = os[j]
			j++
		case l.zero:
			j++
		}
	}
	o.out = &value{shape: out, buf: &buffer{size: prod(out)}}
	o.steps = []copyStep{{dims: x.shape, dstSt: dst, srcSt: xs, add: true}}
	o.scale = 1 / float32(count)
	return nil
}

// planSlice plans a Slice of x (ONNX semantics: clamped bounds, negative
// steps).
func (o *execOp) planSlice(x *value, starts, ends, axes, steps []int64, norm func(int64) (int, error)) error {
	if len(starts) != len(ends) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return errors.New("Slice starts, ends, axes and steps differ in length")
	}
	xs := physStrides(x.shape)
	out := append([]int(nil), x.shape...)
	src := append([]int(nil), xs...)
	off := 0
	for i := range starts {
		a := i
		if axes != nil {
			var err error
			if a, err = norm(axes[i]); err != nil {
				return err
			}
		}
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return errors.New("Slice step 0")
		}
		d := int64(x.shape[a])
		clamp := func(v, lo, hi int64) int64 {
			if v < 0 {
				v += d
			}
			return min(max(v, lo), hi)
		}
		var b, e int64
		if step > 0 {
			b, e = clamp(starts[i], 0, d), clamp(ends[i], 0, d)
		} else {
			b, e = clamp(starts[i], -1, d-1), clamp(ends[i], -1, d-1)
		}
		n := int64(0)
		if step > 0 && e > b {
			n = (e - b + step - 1) / step
		} else if step < 0 && b > e {
			n = (b - e - step - 1) / -step
		}
		out[a] = int(n)
		off += int(b) * xs[a]
		src[a] = xs[a] * int(step)
	}
	if prod(out) == 0 {
		return fmt.Errorf("Slice of %v is empty", x.shape)
	}
	o.out = &value{shape: out, buf: &buffer{size: prod(out)}}
	o.steps = []copyStep{{dims: out, dstSt: physStrides(out), srcSt: src, off: off}}
	return nil
}

// setupGather plans a Gather of one index of an activation (ViT's class
// token): a Slice of that index, the axis dropped for a scalar index.
func (o *execOp) setupGather(ins []*value) error {
	x := ins[0]
	if len(ins) != 2 || ins[1].c == nil || ins[1].c.size() != 1 {
		return errors.New("only Gather of one constant index from an activation is supported")
	}
	norm := func(a int64) (int, error) { return normAxis(a, x.shape) }
	axis, err := norm(int64(o.l.axis))
	if err != nil {
		return err
	}
	i := ins[1].c.ints()[0]
	if i < 0 {
		i += int64(x.shape[axis])
	}
	if i < 0 || int(i) >= x.shape[axis] {
		return fmt.Errorf("index %d out of range for axis %d of %v", ins[1].c.ints()[0], axis, x.shape)
	}
	if err := o.planSlice(x, []int64{i}, []int64{i + 1}, []int64{int64(axis)}, nil, norm); err != nil {
		return err
	}
	o.ins, o.relayout = ins[:1], true
	if len(ins[1].c.shape) == 0 { // a scalar index drops the axis
		shape := append(append([]int(nil), x.shape[:axis]...), x.shape[axis+1:]...)
		st := physStrides(shape)
		dst := append(append(append([]int(nil), st[:axis]...), 0), st[axis:]...)
		o.out = &value{shape: shape, buf: o.out.buf}
		o.steps[0].dstSt = dst
	}
	return nil
}
