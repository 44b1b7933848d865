package infer

import "fmt"

// avgPool averages windows of planes [planes, h, w] into dst [planes, oh,
// ow]. With includePads the divisor counts the padding (pb, pr are the
// bottom and right pads) but not a ceil_mode overhang, as ONNX Runtime and
// PyTorch do; otherwise it counts only the input pixels.
func avgPool(dst, src []float32, planes int, g geom, pb, pr int, includePads bool) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	parallelFor(planes, 4, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			in, out := src[p*hw:(p+1)*hw], dst[p*ohw:(p+1)*ohw]
			for oy := range g.oh {
				y0 := oy*g.sh - g.pt
				y1 := min(y0+g.kh, g.h+pb)
				py := y1 - y0
				y0, y1 = max(y0, 0), min(y1, g.h)
				for ox := range g.ow {
					x0 := ox*g.sw - g.pl
					x1 := min(x0+g.kw, g.w+pr)
					px := x1 - x0
					x0, x1 = max(x0, 0), min(x1, g.w)
					var s float32
					for y := y0; y < y1; y++ {
						for _, v := range in[y*g.w+x0 : y*g.w+x1] {
							s += v
						}
					}
					cnt := (y1 - y0) * (x1 - x0)
					if includePads {
						cnt = py * px
					}
					if cnt > 0 {
						s /= float32(cnt)
					}
					out[oy*g.ow+ox] = s
				}
			}
		}
	})
}

// padPlanes pads planes [planes, h, w] into [planes, oh, ow] with v, the
// input at (pt, pl).
func padPlanes(dst, src []float32, planes int, g geom, v float32) {
	hw, ohw := g.h*g.w, g.oh*g.ow
	parallelFor(planes, 4, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			in, out := src[p*hw:(p+1)*hw], dst[p*ohw:(p+1)*ohw]
			for i := range out {
				out[i] = v
			}
			for y := range g.h {
				copy(out[(y+g.pt)*g.ow+g.pl:], in[y*g.w:(y+1)*g.w])
			}
		}
	})
}

// setupConcat plans a Concat of activations of one rank. The physical
// layout is row-major except for 4-D activations, stored CNHW: the channel
// axis is outermost there, so a channel Concat is its inputs one after
// another.
func (o *execOp) setupConcat(ins []*value) error {
	x := ins[0]
	r := len(x.shape)
	axis := o.l.axis
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return fmt.Errorf("axis %d out of range for %v", o.l.axis, x.shape)
	}
	out := append([]int(nil), x.shape...)
	out[axis] = 0
	o.ins, o.parts = nil, ins
	for _, in := range ins {
		if in.buf != nil {
			o.ins = append(o.ins, in)
		} else if in.c.f == nil {
			return fmt.Errorf("Concat of activations and integers is not supported")
		}
		if len(in.shape) != r {
			return fmt.Errorf("Concat of shapes %v and %v", x.shape, in.shape)
		}
		for d := range r {
			if d != axis && in.shape[d] != x.shape[d] {
				return fmt.Errorf("Concat along axis %d of shapes %v and %v", axis, x.shape, in.shape)
			}
		}
		out[axis] += in.shape[axis]
	}
	pa := axis
	if r == 4 && axis <= 1 {
		pa = 1 - axis
	}
	o.g.c = pa // the physical axis, for runConcat
	o.out = &value{shape: out, buf: &buffer{size: prod(out)}}
	return nil
}

// runConcat copies the inputs into dst along the planned physical axis.
func (o *execOp) runConcat(dst []float32) {
	phys := func(s []int) []int {
		s = append([]int(nil), s...)
		if len(s) == 4 {
			s[0], s[1] = s[1], s[0]
		}
		return s
	}
	pa := o.g.c
	po := phys(o.out.shape)
	outer := prod(po[:pa])
	rowOut := prod(po[pa:])
	at := 0
	for _, in := range o.parts {
		var data []float32
		switch s := in.shape; {
		case in.buf != nil:
			data = in.buf.data
		case len(s) == 4:
			data = swapOuter(in.c.f, s[0], s[1], s[2]*s[3])
		default:
			data = in.c.f
		}
		row := prod(phys(in.shape)[pa:])
		for i := range outer {
			copy(dst[i*rowOut+at:i*rowOut+at+row], data[i*row:(i+1)*row])
		}
		at += row
	}
}
