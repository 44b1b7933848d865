package oracle

import "testing"

// conv is a Conv node with weights [cout, cin/group, k, k] and a bias.
func conv(name, in, out string, cin, cout, k, group int64, seed uint64, attrs ...attr) (node, []tensor) {
	w := tensor{Name: name + ".w", Dims: []int64{cout, cin / group, k, k}, Data: rnd(seed, int(cout*cin/group*k*k), -0.5, 0.5)}
	b := tensor{Name: name + ".b", Dims: []int64{cout}, Data: rnd(seed+1, int(cout), -0.5, 0.5)}
	attrs = append(attrs, aInts("kernel_shape", k, k), aInt("group", group))
	return newNode("Conv", []string{in, w.Name, b.Name}, []string{out}, attrs...), []tensor{w, b}
}

// bn is a BatchNormalization node with small variances, so that epsilon
// matters: var in [1e-4, 2e-3), where 1e-3 against 1e-5 changes the scale
// by up to 2x.
func bn(name, in, out string, c int64, seed uint64, eps float32) (node, []tensor) {
	ts := []tensor{
		{Name: name + ".scale", Dims: []int64{c}, Data: rnd(seed, int(c), 0.5, 1.5)},
		{Name: name + ".bias", Dims: []int64{c}, Data: rnd(seed+1, int(c), -0.5, 0.5)},
		{Name: name + ".mean", Dims: []int64{c}, Data: rnd(seed+2, int(c), -0.2, 0.2)},
		{Name: name + ".var", Dims: []int64{c}, Data: rnd(seed+3, int(c), 1e-4, 2e-3)},
	}
	return newNode("BatchNormalization", []string{in, ts[0].Name, ts[1].Name, ts[2].Name, ts[3].Name}, []string{out},
		aFloat("epsilon", eps)), ts
}

// chain builds a model from nodes and their initializers.
func chain(opset, size int64, parts ...any) model {
	m := model{Opset: opset, Size: size}
	for _, p := range parts {
		switch p := p.(type) {
		case node:
			m.Nodes = append(m.Nodes, p)
		case []tensor:
			m.Inits = append(m.Inits, p...)
		case tensor:
			m.Inits = append(m.Inits, p)
		}
	}
	return m
}

// TestBatchNormEpsilon: every torch fixture uses epsilon 1e-5, so a loader
// that ignored the attribute would pass the parity suite. Here BatchNorm
// with epsilon 1e-3 both after a convolution (folded into it) and on the
// raw input (a ResNet v2 stem, run as a per-channel affine layer).
func TestBatchNormEpsilon(t *testing.T) {
	for _, eps := range []float32{1e-3, 1e-5, 0.1} {
		c1, w1 := conv("c1", "bn0", "c1", 3, 8, 3, 1, 10, aInts("pads", 1, 1, 1, 1))
		b0, p0 := bn("bn0", "data", "bn0", 3, 20, eps)
		b1, p1 := bn("bn1", "c1", "bn1", 8, 30, eps)
		m := chain(13, 12, b0, p0, c1, w1, b1, p1, newNode("Relu", []string{"bn1"}, []string{"out"}))
		t.Run(name("eps", eps), func(t *testing.T) { check(t, oracleCase{m: m}) })
	}
}

// TestConvAttributes: pads (asymmetric), strides, groups and dilations
// the fixtures do not use.
func TestConvAttributes(t *testing.T) {
	cases := []struct {
		name         string
		cin, cout, k int64
		group        int64
		attrs        []attr
		unsupported  string
		size         int64
	}{
		{name: "pads asymmetric", cin: 3, cout: 5, k: 3, group: 1, attrs: []attr{aInts("pads", 0, 1, 2, 1)}},
		{name: "strides 2x1", cin: 3, cout: 4, k: 3, group: 1, attrs: []attr{aInts("strides", 2, 1), aInts("pads", 1, 1, 1, 1)}},
		{name: "strides 3 kernel 5", cin: 3, cout: 6, k: 5, group: 1, attrs: []attr{aInts("strides", 3, 3), aInts("pads", 2, 2, 2, 2)}},
		{name: "1x1 stride 2", cin: 3, cout: 7, k: 1, group: 1, attrs: []attr{aInts("strides", 2, 2)}},
		{name: "groups 3", cin: 3, cout: 6, k: 3, group: 3, attrs: []attr{aInts("pads", 1, 1, 1, 1)}},
		{name: "depthwise stride 2", cin: 3, cout: 3, k: 3, group: 3, attrs: []attr{aInts("strides", 2, 2), aInts("pads", 1, 0, 1, 0)}},
		{name: "dilations 2", cin: 3, cout: 4, k: 3, group: 1, attrs: []attr{aInts("dilations", 2, 2), aInts("pads", 2, 2, 2, 2)}, unsupported: "dilations"},
		{name: "no pads", cin: 3, cout: 4, k: 3, group: 1},
	}
	for i, tc := range cases {
		c, w := conv("c", "data", "c", tc.cin, tc.cout, tc.k, tc.group, uint64(40+10*i), tc.attrs...)
		m := chain(13, 11, c, w, newNode("Relu", []string{"c"}, []string{"out"}))
		t.Run(tc.name, func(t *testing.T) { check(t, oracleCase{m: m, unsupported: tc.unsupported}) })
	}
	// Groups on 8 channels after a first convolution (grouped GEMM path).
	c1, w1 := conv("c1", "data", "c1", 3, 8, 3, 1, 200, aInts("pads", 1, 1, 1, 1))
	c2, w2 := conv("c2", "c1", "out", 8, 12, 3, 4, 210, aInts("strides", 2, 2), aInts("pads", 0, 1, 1, 0))
	t.Run("groups 4 of 8", func(t *testing.T) { check(t, oracleCase{m: chain(13, 13, c1, w1, c2, w2)}) })
}

// TestGemmAttributes: the classifier head's Gemm with transB, alpha and
// beta (the zoo's heads use only transB=1), and transA, which mlserve may
// refuse by name.
func TestGemmAttributes(t *testing.T) {
	const k, m = 8, 10
	cases := []struct {
		name        string
		attrs       []attr
		transB      bool
		unsupported string
	}{
		{"plain", nil, false, ""},
		{"transB", []attr{aInt("transB", 1)}, true, ""},
		{"alpha 0.5 beta 2", []attr{aFloat("alpha", 0.5), aFloat("beta", 2)}, false, ""},
		{"transB alpha beta", []attr{aInt("transB", 1), aFloat("alpha", -1.5), aFloat("beta", 0.25)}, true, ""},
		{"transA", []attr{aInt("transA", 1)}, false, "transA"},
	}
	for i, tc := range cases {
		c, w := conv("c", "data", "c", 3, k, 3, 1, uint64(300+10*i))
		dims := []int64{k, m}
		if tc.transB {
			dims = []int64{m, k}
		}
		b := tensor{Name: "fc.w", Dims: dims, Data: rnd(uint64(305+10*i), k*m, -1, 1)}
		bias := tensor{Name: "fc.b", Dims: []int64{m}, Data: rnd(uint64(306+10*i), m, -1, 1)}
		in := "flat"
		parts := []any{c, w, newNode("GlobalAveragePool", []string{"c"}, []string{"gap"}),
			newNode("Flatten", []string{"gap"}, []string{"flat"}, aInt("axis", 1))}
		if tc.unsupported == "transA" {
			parts = append(parts, newNode("Transpose", []string{"flat"}, []string{"flatT"}, aInts("perm", 1, 0)))
			in = "flatT"
		}
		parts = append(parts, b, bias, newNode("Gemm", []string{in, "fc.w", "fc.b"}, []string{"out"}, tc.attrs...))
		t.Run(tc.name, func(t *testing.T) { check(t, oracleCase{m: chain(13, 9, parts...), unsupported: tc.unsupported}) })
	}
}

// TestPoolAttributes: MaxPool and AveragePool with ceil_mode, pads,
// strides and count_include_pad, on sizes where ceil_mode adds a window.
func TestPoolAttributes(t *testing.T) {
	cases := []struct {
		name  string
		op    string
		size  int64
		attrs []attr
	}{
		{"max k3 s2", "MaxPool", 12, []attr{aInts("kernel_shape", 3, 3), aInts("strides", 2, 2)}},
		{"max k3 s2 ceil", "MaxPool", 12, []attr{aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInt("ceil_mode", 1)}},
		{"max k3 s2 pad1 ceil", "MaxPool", 13, []attr{aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1), aInt("ceil_mode", 1)}},
		{"max k2 s2 ceil odd", "MaxPool", 11, []attr{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInt("ceil_mode", 1)}},
		{"avg k3 s2 ceil", "AveragePool", 12, []attr{aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInt("ceil_mode", 1)}},
		{"avg k3 s2 pad1 include pad", "AveragePool", 11, []attr{aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1), aInt("count_include_pad", 1)}},
		{"avg k3 s2 pad1 exclude pad ceil", "AveragePool", 12, []attr{aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInts("pads", 1, 1, 1, 1), aInt("ceil_mode", 1)}},
		{"avg k2 s1 asymmetric pads", "AveragePool", 10, []attr{aInts("kernel_shape", 2, 2), aInts("pads", 0, 1, 1, 0), aInt("count_include_pad", 1)}},
	}
	for i, tc := range cases {
		// A convolution first: pools of a model's input are not what
		// networks do, and the engine may treat the input specially.
		c, w := conv("c", "data", "c", 3, 4, 1, 1, uint64(400+10*i))
		m := chain(13, tc.size, c, w, newNode(tc.op, []string{"c"}, []string{"out"}, tc.attrs...))
		t.Run(tc.name, func(t *testing.T) { check(t, oracleCase{m: m}) })
	}
}

func name(prefix string, v float32) string {
	return prefix + "=" + formatFloat(v)
}
