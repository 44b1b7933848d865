package infer

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"gorgonia.org/tensor"

	"github.com/mlserve/mlserve/internal/gemm"
)

// kind is the engine operation a layer runs.
type kind int

const (
	kConv       kind = iota // convolution as packed GEMM, with fused bias, residual add and ReLU
	kAffine                 // per-channel scale and shift (BatchNormalization not folded), optional ReLU
	kAdd                    // element-wise add of two activations, optional ReLU
	kRelu                   // element-wise ReLU
	kMaxPool                // max pooling
	kGAP                    // global average pooling
	kFC                     // fully connected layer (Gemm or MatMul with constant weights)
	kSoftmax                // softmax over the last axis
	kView                   // Flatten or Reshape: same data, new shape
	kShapeOp                // Shape, Gather, Unsqueeze, Squeeze, Concat, Cast: computed when planning
	kGConv                  // grouped or depthwise convolution, direct (op_gconv.go)
	kUnary                  // element-wise activation (op_eltwise.go)
	kBinary                 // element-wise arithmetic with broadcasting (op_eltwise.go)
	kConcat                 // Concat of activations along the channel axis (op_pool.go)
	kAvgPool                // average pooling (op_pool.go)
	kPad                    // constant spatial padding (op_pool.go)
	kTranspose              // Transpose (op_layout.go)
	kSlice                  // Slice (op_layout.go)
	kReduceMean             // ReduceMean (op_layout.go)
	kLayerNorm              // LayerNormalization over the last axis (op_eltwise.go)
	kMatMul                 // MatMul of two activations (op_matmul.go)
)

var kindNames = [...]string{"Conv", "Affine", "Add", "Relu", "MaxPool", "GlobalAveragePool", "FC", "Softmax", "View", "ShapeOp",
	"GroupConv", "Unary", "Binary", "Concat", "AveragePool", "Pad", "Transpose", "Slice", "ReduceMean", "LayerNormalization", "MatMul"}

func (k kind) String() string { return kindNames[k] }

// layer is one lowered operation of the network.
type layer struct {
	kind kind
	typ  string // the ONNX operator, or a fused description
	name string
	in   []string
	out  string
	relu bool

	// kConv: weights [cout, cin*kh*kw] packed once; bias always present.
	cin, cout, kh, kw, sh, sw int
	pads                      [4]int // top, left, bottom, right
	autoPad                   string
	w                         []float32
	packed                    *gemm.PackedA
	wino                      *winoWeights // 3x3 stride 1 run as Winograd (packed is nil then)
	bias                      []float32
	residual                  string // kConv: value added before ReLU, or ""

	// kAffine
	scale, shift []float32

	// kMaxPool
	ceil bool

	// kFC: out[n, m] = in[n, k] * W^T + bias, W packed as [m, k].
	m, k int

	// kGConv: groups; kGConv and kUnary: the activation applied
	group int
	act   activation
	// kBinary: the arithmetic; kAvgPool: count the padding
	arith       string
	includePads bool
	padValue    float32   // kPad
	fill        *constant // ConstantOfShape's value

	// kView (Flatten: axis; Reshape: in[1] is the shape) and kShapeOp
	axis    int
	axes    []int64
	zero    bool // Reshape allowzero
	softmax int  // kSoftmax: axis as written (normalized when planning)
}

// network is the lowered model, independent of the batch size.
type network struct {
	layers     []*layer
	consts     map[string]*constant
	input      string
	inputShape []int
	output     string
	params     int64
}

// allowedAttrs lists, per operator, the attributes the engine reads or may
// safely ignore; any other attribute is a load error naming the node.
var allowedAttrs = map[string][]string{
	"Conv":               {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"},
	"BatchNormalization": {"epsilon", "momentum", "spatial", "is_test", "consumed_inputs", "training_mode"},
	"Relu":               {"consumed_inputs"},
	"Add":                {"consumed_inputs"},
	"MaxPool":            {"kernel_shape", "strides", "pads", "ceil_mode", "dilations", "auto_pad", "storage_order"},
	"GlobalAveragePool":  {},
	"Flatten":            {"axis"},
	"Reshape":            {"allowzero"},
	"Gemm":               {"alpha", "beta", "transA", "transB", "broadcast"},
	"MatMul":             {},
	"Softmax":            {"axis"},
	"Identity":           {},
	"Dropout":            {"ratio", "seed", "is_test", "training_mode"},
	"Constant":           {"value", "value_float", "value_floats", "value_int", "value_ints"},
	"Shape":              {"start", "end"},
	"Gather":             {"axis"},
	"Unsqueeze":          {"axes"},
	"Squeeze":            {"axes"},
	"Concat":             {"axis"},
	"Cast":               {"to", "saturate"},
}

// lower turns the decoded model into layers: weights are transformed and
// packed once here, BatchNormalization is folded into the convolution before
// it, and Add and ReLU are fused into the convolution's epilogue.
func lower(m *model) (*network, error) {
	if err := missingOperators(m); err != nil {
		return nil, err
	}
	net := &network{consts: m.consts, input: m.input, inputShape: m.inputShape, params: m.params}
	alias := map[string]string{}
	resolve := func(s string) string {
		for {
			a, ok := alias[s]
			if !ok {
				return s
			}
			s = a
		}
	}
	for _, op := range m.ops {
		for i := range op.in {
			op.in[i] = resolve(op.in[i])
		}
		if err := checkAttrs(op); err != nil {
			return nil, err
		}
		l, err := lowerOp(net, op)
		if err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				return nil, err
			}
			return nil, &LoadError{Node: op.name, Op: op.typ, Err: err}
		}
		switch {
		case op.typ == "Identity" || op.typ == "Dropout":
			if len(op.in) < 1 {
				return nil, &LoadError{Node: op.name, Op: op.typ, Err: errors.New("no input")}
			}
			alias[op.out[0]] = op.in[0]
		case l != nil:
			net.layers = append(net.layers, l)
		}
	}
	net.output = resolve(m.output)
	shapeConsts := map[string]bool{}
	for _, l := range net.layers {
		if l.kind == kShapeOp || l.kind == kView || readsConstants(l) {
			for _, in := range l.in {
				shapeConsts[in] = true
			}
		}
	}
	fuse(net)
	// The layers hold their own (folded) copies of the weights now; keep
	// only the constants that shape computations and views may still read.
	for name := range net.consts {
		if !shapeConsts[name] {
			delete(net.consts, name)
		}
	}
	packWeights(net)
	return net, nil
}

// packWeights packs every convolution's weights for the GEMM and drops the
// unpacked copy. It collects garbage every packGCFloats packed floats, so the
// packed weights reuse the memory of the unpacked ones and of the dropped
// constants instead of adding to the peak RSS (ResNet-50: about 100 MB).
func packWeights(net *network) {
	runtime.GC()
	since := 0
	for _, l := range net.layers {
		switch {
		case l.kind != kConv:
			continue
		case useWino(l):
			l.wino = newWinoWeights(l.w, l.cout, l.cin)
		default:
			l.packed = gemm.PackA(l.w, l.cout, l.cin*l.kh*l.kw)
		}
		since += len(l.w)
		l.w = nil
		if since >= packGCFloats {
			runtime.GC()
			since = 0
		}
	}
}

// packGCFloats is how many floats packWeights packs between collections:
// 16 MiB, a few collections for ResNet-50, each cheap (weights hold no
// pointers).
const packGCFloats = 4 << 20

func checkAttrs(op *irOp) error {
	allowed, ok := allowedAttrs[op.typ]
	if !ok {
		return &LoadError{Node: op.name, Op: op.typ, Err: fmt.Errorf("unsupported operator %s", op.typ)}
	}
next:
	for name := range op.attrs {
		for _, a := range allowed {
			if a == name {
				continue next
			}
		}
		return &LoadError{Node: op.name, Op: op.typ, Err: fmt.Errorf("unsupported attribute %q", name)}
	}
	return nil
}

func attrInt(op *irOp, name string, def int64) (int64, error) {
	v, ok := op.attrs[name]
	if !ok {
		return def, nil
	}
	i, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("attribute %s: want an int, got %T", name, v)
	}
	return i, nil
}

func attrFloat(op *irOp, name string, def float32) (float32, error) {
	v, ok := op.attrs[name]
	if !ok {
		return def, nil
	}
	f, ok := v.(float32)
	if !ok {
		return 0, fmt.Errorf("attribute %s: want a float, got %T", name, v)
	}
	return f, nil
}

func attrInts(op *irOp, name string) ([]int64, bool, error) {
	v, ok := op.attrs[name]
	if !ok {
		return nil, false, nil
	}
	is, ok := v.([]int64)
	if !ok {
		return nil, false, fmt.Errorf("attribute %s: want ints, got %T", name, v)
	}
	return is, true, nil
}

func attrString(op *irOp, name, def string) (string, error) {
	v, ok := op.attrs[name]
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("attribute %s: want a string, got %T", name, v)
	}
	return s, nil
}

func (net *network) constInput(op *irOp, i int, what string) (*constant, error) {
	if i >= len(op.in) || op.in[i] == "" {
		return nil, fmt.Errorf("missing %s input", what)
	}
	c, ok := net.consts[op.in[i]]
	if !ok {
		return nil, fmt.Errorf("%s %q must be a constant (an initializer)", what, op.in[i])
	}
	if c.f == nil {
		return nil, fmt.Errorf("%s %q is not a float tensor", what, op.in[i])
	}
	return c, nil
}

func wantInputs(op *irOp, lo, hi int) error {
	n := 0
	for _, in := range op.in {
		if in != "" {
			n++
		}
	}
	if n < lo || n > hi {
		return fmt.Errorf("has %d inputs, want %d to %d", n, lo, hi)
	}
	return nil
}

// lowerOp lowers one operation; nil with no error means it becomes an alias
// (Identity, Dropout) or a constant (Constant).
func lowerOp(net *network, op *irOp) (*layer, error) {
	l := &layer{typ: op.typ, name: op.name, out: op.out[0]}
	switch op.typ {
	case "Identity", "Dropout":
		return nil, nil
	case "Constant":
		c, err := constantValue(op)
		if err != nil {
			return nil, err
		}
		net.consts[op.out[0]] = c
		return nil, nil
	case "Conv":
		return l, lowerConv(net, op, l)
	case "BatchNormalization":
		if err := wantInputs(op, 5, 5); err != nil {
			return nil, err
		}
		if tm, _ := attrInt(op, "training_mode", 0); tm != 0 {
			return nil, errors.New("training_mode=1 is not supported")
		}
		if sp, err := attrInt(op, "spatial", 1); err != nil || sp != 1 {
			return nil, fmt.Errorf("spatial=%d is not supported (only per-channel statistics)", sp)
		}
		eps, err := attrFloat(op, "epsilon", 1e-5)
		if err != nil {
			return nil, err
		}
		var cs [4]*constant
		for i, what := range []string{"scale", "bias", "mean", "var"} {
			if cs[i], err = net.constInput(op, i+1, what); err != nil {
				return nil, err
			}
		}
		c := cs[0].size()
		for i := range cs {
			if cs[i].size() != c {
				return nil, fmt.Errorf("BatchNormalization parameters have %d and %d values", c, cs[i].size())
			}
		}
		l.kind, l.in = kAffine, op.in[:1]
		l.scale, l.shift = make([]float32, c), make([]float32, c)
		for i := 0; i < c; i++ {
			s := float64(cs[0].f[i]) / math.Sqrt(float64(cs[3].f[i])+float64(eps))
			l.scale[i] = float32(s)
			l.shift[i] = float32(float64(cs[1].f[i]) - float64(cs[2].f[i])*s)
		}
		return l, nil
	case "Relu":
		l.kind, l.in = kRelu, op.in[:1]
		return l, wantInputs(op, 1, 1)
	case "Add":
		if err := wantInputs(op, 2, 2); err != nil {
			return nil, err
		}
		l.kind, l.in = kAdd, op.in
		for _, in := range op.in {
			if _, ok := net.consts[in]; ok {
				l.kind, l.arith = kBinary, "Add" // a bias: broadcasting (op_eltwise.go)
			}
		}
		return l, nil
	case "MaxPool":
		return l, lowerMaxPool(op, l)
	case "GlobalAveragePool":
		l.kind, l.in = kGAP, op.in[:1]
		return l, wantInputs(op, 1, 1)
	case "Flatten":
		axis, err := attrInt(op, "axis", 1)
		if err != nil {
			return nil, err
		}
		l.kind, l.in, l.axis = kView, op.in[:1], int(axis)
		return l, nil
	case "Reshape":
		if err := wantInputs(op, 2, 2); err != nil {
			return nil, err
		}
		z, err := attrInt(op, "allowzero", 0)
		if err != nil {
			return nil, err
		}
		l.kind, l.in, l.zero = kView, op.in, z != 0
		return l, nil
	case "Gemm", "MatMul":
		if _, ok := net.consts[op.in[len(op.in)-1]]; op.typ == "MatMul" && !ok && len(op.in) == 2 {
			l.kind, l.in = kMatMul, op.in // of two activations (op_matmul.go)
			return l, nil
		}
		return l, lowerFC(net, op, l)
	case "Softmax":
		// Opset 13 changed the default axis from 1 to -1: both are the
		// class axis of [N, classes], the only softmax the engine runs.
		axis, err := attrInt(op, "axis", -1)
		if err != nil {
			return nil, err
		}
		l.kind, l.in, l.softmax = kSoftmax, op.in[:1], int(axis)
		return l, nil
	case "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast":
		l.kind, l.in = kShapeOp, op.in
		axis, err := attrInt(op, "axis", 0)
		if err != nil {
			return nil, err
		}
		l.axis = int(axis)
		if l.axes, _, err = attrInts(op, "axes"); err != nil {
			return nil, err
		}
		if op.typ == "Shape" {
			if _, ok := op.attrs["start"]; ok {
				return nil, errors.New("Shape with start/end is not supported")
			}
		}
		return l, nil
	}
	return lowerExtra(net, op, l)
}

func constantValue(op *irOp) (*constant, error) {
	for name, v := range op.attrs {
		switch name {
		case "value":
			t, ok := v.(tensor.Tensor)
			if !ok {
				return nil, fmt.Errorf("value: want a tensor, got %T", v)
			}
			return toConstant(t)
		case "value_float":
			if f, ok := v.(float32); ok {
				return &constant{f: []float32{f}}, nil
			}
		case "value_floats":
			if fs, ok := v.([]float32); ok {
				return &constant{shape: []int{len(fs)}, f: append([]float32(nil), fs...)}, nil
			}
		case "value_int":
			if i, ok := v.(int64); ok {
				return &constant{i: []int64{i}}, nil
			}
		case "value_ints":
			if is, ok := v.([]int64); ok {
				return &constant{shape: []int{len(is)}, i: append([]int64(nil), is...)}, nil
			}
		}
	}
	return nil, errors.New("Constant without a supported value")
}

func lowerConv(net *network, op *irOp, l *layer) error {
	if err := wantInputs(op, 2, 3); err != nil {
		return err
	}
	w, err := net.constInput(op, 1, "weight")
	if err != nil {
		return err
	}
	if len(w.shape) != 4 {
		return fmt.Errorf("weight shape %v: only 2-D convolutions are supported", w.shape)
	}
	g, err := attrInt(op, "group", 1)
	if err != nil || g < 1 || w.shape[0]%int(g) != 0 {
		return fmt.Errorf("group=%d does not divide %d output channels", g, w.shape[0])
	}
	if d, ok, err := attrInts(op, "dilations"); err != nil {
		return err
	} else if ok && (len(d) != 2 || d[0] != 1 || d[1] != 1) {
		return fmt.Errorf("dilations %v: only 1 is supported", d)
	}
	l.kind, l.in = kConv, op.in[:1]
	if g > 1 {
		l.kind, l.group = kGConv, int(g)
	}
	l.cout, l.cin, l.kh, l.kw = w.shape[0], w.shape[1], w.shape[2], w.shape[3]
	if ks, ok, err := attrInts(op, "kernel_shape"); err != nil {
		return err
	} else if ok && (len(ks) != 2 || int(ks[0]) != l.kh || int(ks[1]) != l.kw) {
		return fmt.Errorf("kernel_shape %v does not match the weight shape %v", ks, w.shape)
	}
	if l.sh, l.sw, err = strides(op); err != nil {
		return err
	}
	if l.pads, err = pads(op); err != nil {
		return err
	}
	if l.autoPad, err = attrString(op, "auto_pad", "NOTSET"); err != nil {
		return err
	}
	switch l.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return fmt.Errorf("auto_pad %q is not supported", l.autoPad)
	}
	l.w = append([]float32(nil), w.f...)
	l.bias = make([]float32, l.cout)
	if len(op.in) > 2 && op.in[2] != "" {
		b, err := net.constInput(op, 2, "bias")
		if err != nil {
			return err
		}
		if b.size() != l.cout {
			return fmt.Errorf("bias has %d values for %d output channels", b.size(), l.cout)
		}
		copy(l.bias, b.f)
	}
	return nil
}

func strides(op *irOp) (int, int, error) {
	s, ok, err := attrInts(op, "strides")
	if err != nil || !ok {
		return 1, 1, err
	}
	if len(s) != 2 || s[0] < 1 || s[1] < 1 {
		return 0, 0, fmt.Errorf("strides %v: want two positive values", s)
	}
	return int(s[0]), int(s[1]), nil
}

func pads(op *irOp) ([4]int, error) {
	var p [4]int
	v, ok, err := attrInts(op, "pads")
	if err != nil || !ok {
		return p, err
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

func lowerMaxPool(op *irOp, l *layer) error {
	ks, ok, err := attrInts(op, "kernel_shape")
	if err != nil {
		return err
	}
	if !ok || len(ks) != 2 || ks[0] < 1 || ks[1] < 1 {
		return fmt.Errorf("kernel_shape %v: want two positive values", ks)
	}
	if d, ok, err := attrInts(op, "dilations"); err != nil {
		return err
	} else if ok && (len(d) != 2 || d[0] != 1 || d[1] != 1) {
		return fmt.Errorf("dilations %v: only 1 is supported", d)
	}
	if ap, _ := attrString(op, "auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return fmt.Errorf("auto_pad %q is not supported", ap)
	}
	if len(op.out) > 1 {
		return errors.New("the Indices output is not supported")
	}
	ceil, err := attrInt(op, "ceil_mode", 0)
	if err != nil {
		return err
	}
	l.kind, l.in = kMaxPool, op.in[:1]
	l.kh, l.kw, l.ceil = int(ks[0]), int(ks[1]), ceil != 0
	if l.sh, l.sw, err = strides(op); err != nil {
		return err
	}
	l.pads, err = pads(op)
	return err
}

func lowerFC(net *network, op *irOp, l *layer) error {
	if err := wantInputs(op, 2, 3); err != nil {
		return err
	}
	w, err := net.constInput(op, 1, "weight")
	if err != nil {
		return err
	}
	if len(w.shape) != 2 {
		return fmt.Errorf("weight shape %v: want a matrix", w.shape)
	}
	transA, _ := attrInt(op, "transA", 0)
	transB, _ := attrInt(op, "transB", 0)
	alpha, err := attrFloat(op, "alpha", 1)
	if err != nil {
		return err
	}
	beta, err := attrFloat(op, "beta", 1)
	if err != nil {
		return err
	}
	if transA != 0 {
		return errors.New("transA=1 is not supported")
	}
	l.kind, l.in = kFC, op.in[:1]
	var wt []float32 // [m, k]
	if transB != 0 {
		l.m, l.k = w.shape[0], w.shape[1]
		wt = append([]float32(nil), w.f...)
	} else {
		l.k, l.m = w.shape[0], w.shape[1]
		wt = make([]float32, l.m*l.k)
		for i := 0; i < l.k; i++ {
			for j := 0; j < l.m; j++ {
				wt[j*l.k+i] = w.f[i*l.m+j]
			}
		}
	}
	if alpha != 1 {
		for i := range wt {
			wt[i] *= alpha
		}
	}
	l.packed = gemm.PackA(wt, l.m, l.k)
	l.bias = make([]float32, l.m)
	if op.typ == "Gemm" && len(op.in) > 2 && op.in[2] != "" {
		b, err := net.constInput(op, 2, "bias")
		if err != nil {
			return err
		}
		switch b.size() {
		case 1:
			for i := range l.bias {
				l.bias[i] = beta * b.f[0]
			}
		case l.m:
			for i := range l.bias {
				l.bias[i] = beta * b.f[i]
			}
		default:
			return fmt.Errorf("bias of %d values for %d outputs is not supported", b.size(), l.m)
		}
	}
	return nil
}

// fuse folds BatchNormalization into the convolution before it and fuses a
// following Add (residual) and ReLU into the convolution's epilogue.
func fuse(net *network) {
	uses := func() map[string]int {
		u := map[string]int{net.output: 1}
		for _, l := range net.layers {
			for _, in := range l.in {
				u[in]++
			}
			if l.residual != "" {
				u[l.residual]++
			}
		}
		return u
	}
	producers := func() map[string]int {
		p := map[string]int{}
		for i, l := range net.layers {
			p[l.out] = i
		}
		return p
	}
	remove := func(drop map[*layer]bool) {
		kept := net.layers[:0]
		for _, l := range net.layers {
			if !drop[l] {
				kept = append(kept, l)
			}
		}
		net.layers = kept
	}

	// BatchNormalization after a convolution: scale the weights and bias.
	u, p, drop := uses(), producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kAffine || u[l.in[0]] != 1 {
			continue
		}
		i, ok := p[l.in[0]]
		if !ok || (net.layers[i].kind != kConv && net.layers[i].kind != kGConv) || drop[net.layers[i]] {
			continue
		}
		c := net.layers[i]
		per := c.cin * c.kh * c.kw
		for o := 0; o < c.cout; o++ {
			s := l.scale[o]
			for j := o * per; j < (o+1)*per; j++ {
				c.w[j] *= s
			}
			c.bias[o] = c.bias[o]*s + l.shift[o]
		}
		c.typ += "+BatchNormalization"
		c.out = l.out
		drop[l] = true
	}
	remove(drop)

	// Add after a convolution: the other operand becomes the residual of the
	// later of the two convolutions, computed before it.
	u, p, drop = uses(), producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kAdd {
			continue
		}
		best, other := -1, ""
		for j, in := range l.in {
			i, ok := p[in]
			if !ok || u[in] != 1 || net.layers[i].kind != kConv || net.layers[i].residual != "" || net.layers[i].relu {
				continue
			}
			o := l.in[1-j]
			if oi, ok := p[o]; ok && oi >= i {
				continue
			}
			if i > best {
				best, other = i, o
			}
		}
		if best < 0 {
			continue
		}
		c := net.layers[best]
		c.residual, c.out = other, l.out
		c.typ += "+Add"
		drop[l] = true
	}
	remove(drop)

	// ReLU after a layer with an epilogue.
	u, p, drop = uses(), producers(), map[*layer]bool{}
	for _, l := range net.layers {
		if l.kind != kRelu || u[l.in[0]] != 1 {
			continue
		}
		i, ok := p[l.in[0]]
		if !ok {
			continue
		}
		src := net.layers[i]
		switch src.kind {
		case kConv, kAffine, kAdd, kFC, kGConv:
		default:
			continue
		}
		if src.relu || drop[src] {
			continue
		}
		src.relu, src.out = true, l.out
		src.typ += "+Relu"
		drop[l] = true
	}
	remove(drop)
	fuseActivations(net, uses, producers, remove)
}
