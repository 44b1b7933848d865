package infer

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/onnx"
)

// constInput returns input i of n, which must be a float constant.
func (net *network) constInput(n *onnx.Node, i int, what string) (*constant, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil, fmt.Errorf("missing %s input", what)
	}
	c, ok := net.consts[n.Inputs[i]]
	if !ok {
		return nil, fmt.Errorf("%s %q must be a constant (an initializer)", what, n.Inputs[i])
	}
	if c.f == nil {
		return nil, fmt.Errorf("%s %q is not a float tensor", what, n.Inputs[i])
	}
	return c, nil
}

// hasInput reports whether n has its optional input i.
func hasInput(n *onnx.Node, i int) bool { return i < len(n.Inputs) && n.Inputs[i] != "" }

func wantInputs(n *onnx.Node, lo, hi int) error {
	count := 0
	for _, in := range n.Inputs {
		if in != "" {
			count++
		}
	}
	if count < lo || count > hi {
		return fmt.Errorf("has %d inputs, want %d to %d", count, lo, hi)
	}
	return nil
}

// strides reads a 2-D strides attribute (nil: 1, 1).
func strides(s []int64) (int, int, error) {
	if s == nil {
		return 1, 1, nil
	}
	if len(s) != 2 || s[0] < 1 || s[1] < 1 {
		return 0, 0, fmt.Errorf("strides %v: want two positive values", s)
	}
	return int(s[0]), int(s[1]), nil
}

// pads reads a 2-D pads attribute (nil: none).
func pads(v []int64) ([4]int, error) {
	var p [4]int
	if v == nil {
		return p, nil
	}
	if len(v) != 4 {
		return p, fmt.Errorf("pads %v: want 4 values", v)
	}
	// ONNX order: top, left, bottom, right.
	for i := range p {
		if v[i] < 0 {
			return p, fmt.Errorf("pads %v: negative", v)
		}
		p[i] = int(v[i])
	}
	return p, nil
}

// unitDilations checks that a dilations attribute is absent or all ones.
func unitDilations(d []int64) error {
	if d != nil && (len(d) != 2 || d[0] != 1 || d[1] != 1) {
		return fmt.Errorf("dilations %v: only 1 is supported", d)
	}
	return nil
}
