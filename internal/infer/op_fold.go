package infer

import (
	"errors"
	"fmt"

	"github.com/mlserve/mlserve/internal/onnx"
)

// Shape computations on constants, evaluated when planning: the class
// token's Expand in ViT builds its target shape with ConstantOfShape,
// Equal and Where.

// foldConst evaluates ConstantOfShape, Equal, Where, Expand, and Reshape or
// Flatten of a constant; ok is false for other operators.
func foldConst(l *layer, ins []*value) (c *constant, ok bool, err error) {
	switch l.typ {
	case "ConstantOfShape":
		shape := ints(ins[0].c.ints())
		c = &constant{shape: shape}
		n := prod(shape)
		switch {
		case l.fill != nil && l.fill.i != nil:
			c.i = make([]int64, n)
			for i := range c.i {
				c.i[i] = l.fill.i[0]
			}
		default:
			c.f = make([]float32, n)
			if l.fill != nil {
				for i := range c.f {
					c.f[i] = l.fill.f[0]
				}
			}
		}
		return c, true, nil
	case "Equal", "Where":
		shape := ins[0].c.shape
		for _, in := range ins[1:] {
			if shape, err = broadcastShape(shape, in.c.shape); err != nil {
				return nil, true, err
			}
		}
		ex := make([]*constant, len(ins))
		for i, in := range ins {
			ex[i] = expandConst(in.c, shape)
		}
		c = &constant{shape: shape}
		n := prod(shape)
		if l.typ == "Equal" {
			c.i = make([]int64, n)
			fa, fb := ex[0].floats(), ex[1].floats()
			for i := range c.i {
				if fa[i] == fb[i] {
					c.i[i] = 1
				}
			}
			return c, true, nil
		}
		cond := ex[0].ints()
		if ex[1].i != nil && ex[2].i != nil {
			c.i = make([]int64, n)
			for i := range c.i {
				c.i[i] = ex[2].i[i]
				if cond[i] != 0 {
					c.i[i] = ex[1].i[i]
				}
			}
			return c, true, nil
		}
		c.f = make([]float32, n)
		fx, fy := ex[1].floats(), ex[2].floats()
		for i := range c.f {
			c.f[i] = fy[i]
			if cond[i] != 0 {
				c.f[i] = fx[i]
			}
		}
		return c, true, nil
	case "Expand":
		shape, err := broadcastShape(ins[0].c.shape, ints(ins[1].c.ints()))
		if err != nil {
			return nil, true, err
		}
		return expandConst(ins[0].c, shape), true, nil
	case "Reshape", "Flatten":
		shape, err := viewShape(l, ins[0].c.shape, ins)
		if err != nil {
			return nil, true, err
		}
		return &constant{shape: shape, f: ins[0].c.f, i: ins[0].c.i}, true, nil
	}
	return nil, false, nil
}

func ints(v []int64) []int {
	out := make([]int, len(v))
	for i, d := range v {
		out[i] = int(d)
	}
	return out
}

// expandConst broadcasts c (row-major) to shape.
func expandConst(c *constant, shape []int) *constant {
	if equalShape(c.shape, shape) {
		return c
	}
	r := len(shape)
	src := make([]int, r) // stride of each output axis in c, 0 where broadcast
	st := rowMajor(c.shape)
	for i := range c.shape {
		if c.shape[i] != 1 {
			src[r-len(c.shape)+i] = st[i]
		}
	}
	out := &constant{shape: shape}
	n := prod(shape)
	if c.i != nil {
		f := make([]float32, len(c.i))
		for k, v := range c.i {
			f[k] = float32(v)
		}
		tmp := make([]float32, n)
		stridedCopy(tmp, rowMajor(shape), f, src, 0, shape, false)
		out.i = make([]int64, n)
		for k, v := range tmp {
			out.i[k] = int64(v)
		}
		return out
	}
	out.f = make([]float32, n)
	stridedCopy(out.f, rowMajor(shape), c.f, src, 0, shape, false)
	return out
}

// lowerFold lowers the operators foldConst evaluates.
func lowerFold(op onnx.Op, l *layer) (*layer, error) {
	n := op.Base()
	l.kind, l.in = kShapeOp, n.Inputs
	if o, ok := op.(*onnx.ConstantOfShape); ok && o.Value != nil {
		c, err := toConstant(o.Value)
		if err != nil {
			return nil, err
		}
		if c.size() != 1 {
			return nil, errors.New("ConstantOfShape value must hold one value")
		}
		l.fill = c
	}
	if n.OpType == "Where" {
		return l, wantInputs(n, 3, 3)
	}
	if err := wantInputs(n, 1, 2); err != nil {
		return nil, fmt.Errorf("%s: %w", n.OpType, err)
	}
	return l, nil
}
