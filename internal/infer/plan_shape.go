package infer

import (
	"errors"
	"fmt"
	"sort"
)

// viewShape computes the output shape of Flatten or Reshape.
func viewShape(l *layer, in []int, ins []*value) ([]int, error) {
	total := prod(in)
	if l.typ == "Flatten" || len(ins) == 1 {
		axis := l.axis
		if axis < 0 {
			axis += len(in)
		}
		if axis < 0 || axis > len(in) {
			return nil, fmt.Errorf("axis %d out of range for %v", l.axis, in)
		}
		return []int{prod(in[:axis]), prod(in[axis:])}, nil
	}
	if ins[1].c == nil {
		return nil, fmt.Errorf("shape %q is not a constant", l.in[1])
	}
	want := ins[1].c.ints()
	shape := make([]int, len(want))
	infer := -1
	known := 1
	for i, d := range want {
		switch {
		case d == 0 && !l.zero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d of %v", want, i, in)
			}
			shape[i] = in[i]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has two -1", want)
			}
			infer = i
			continue
		case d < 0:
			return nil, fmt.Errorf("shape %v: negative dimension", want)
		default:
			shape[i] = int(d)
		}
		known *= shape[i]
	}
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, want)
		}
		shape[infer] = total / known
	}
	if prod(shape) != total {
		return nil, fmt.Errorf("cannot reshape %v to %v", in, want)
	}
	return shape, nil
}

// shapeOp evaluates a shape computation on constants while planning.
func shapeOp(l *layer, ins []*value) (*constant, error) {
	if len(ins) == 0 {
		return nil, errors.New("no input")
	}
	x := ins[0]
	if l.typ == "Shape" {
		c := &constant{shape: []int{len(x.shape)}, i: make([]int64, len(x.shape))}
		for i, d := range x.shape {
			c.i[i] = int64(d)
		}
		return c, nil
	}
	for i, in := range ins {
		if in.c == nil {
			return nil, fmt.Errorf("input %q is an activation; %s is only supported on shapes", l.in[i], l.typ)
		}
	}
	switch l.typ {
	case "Cast":
		return x.c, nil
	case "Gather":
		if len(ins) != 2 || len(x.c.shape) != 1 || l.axis != 0 {
			return nil, errors.New("only Gather on a 1-D constant along axis 0 is supported")
		}
		idx := ins[1].c.ints()
		c := &constant{shape: ins[1].c.shape, i: make([]int64, len(idx))}
		src := x.c.ints()
		for k, j := range idx {
			if j < 0 {
				j += int64(len(src))
			}
			if j < 0 || int(j) >= len(src) {
				return nil, fmt.Errorf("index %d out of range", idx[k])
			}
			c.i[k] = src[j]
		}
		return c, nil
	case "Unsqueeze", "Squeeze":
		axes := l.axes
		if len(ins) > 1 {
			axes = ins[1].c.ints()
		}
		shape := append([]int(nil), x.c.shape...)
		if l.typ == "Unsqueeze" {
			sorted := append([]int64(nil), axes...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
			for _, a := range sorted {
				if a < 0 {
					a += int64(len(shape) + len(axes))
				}
				if a < 0 || int(a) > len(shape) {
					return nil, fmt.Errorf("axis %d out of range", a)
				}
				shape = append(shape[:a], append([]int{1}, shape[a:]...)...)
			}
		} else {
			var kept []int
			for i, d := range shape {
				drop := len(axes) == 0 && d == 1
				for _, a := range axes {
					if int(a) == i || int(a)+len(shape) == i {
						drop = true
					}
				}
				if !drop {
					kept = append(kept, d)
				}
			}
			shape = kept
		}
		return &constant{shape: shape, f: x.c.f, i: x.c.i}, nil
	case "Concat":
		c := &constant{}
		for _, in := range ins {
			if len(in.c.shape) > 1 {
				return nil, errors.New("only Concat of 1-D constants is supported")
			}
			c.i = append(c.i, in.c.ints()...)
		}
		c.shape = []int{len(c.i)}
		return c, nil
	}
	return foldArith(l, ins)
}

// schedule reads the tape machine's execution order (gorgonia's reversed
// topological sort) and lays every buffer out in the arena: a buffer lives
// from the step that writes it to the last step that reads it, and buffers
// whose lifetimes do not overlap share memory.
