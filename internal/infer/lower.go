package infer

import (
	"errors"
	"runtime"
	"slices"
	"sync"

	"github.com/mlserve/mlserve/internal/gemm"
	"github.com/mlserve/mlserve/internal/onnx"
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
	seScale                   string // kConv 1x1: per-channel scale [n, cin, 1, 1] of its input, or ""

	// kAffine
	scale, shift []float32

	// kMaxPool
	ceil bool

	// kFC: out[n, m] = in[n, k] * W^T + bias, W packed as [m, k].
	m, k int

	// kGConv: groups; kGConv and kUnary: the activation applied
	group int
	act   activation
	// kGConv depthwise: the 1x1 expanding convolution fused before it
	// (fuseExpand), or nil; its bands (op_families_mb.go).
	expand *layer
	bands  sync.Map // bandKey -> *mbBands
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
		n := op.Base()
		for i := range n.Inputs {
			n.Inputs[i] = resolve(n.Inputs[i])
		}
		if len(n.Inputs) == 0 && n.OpType != "Constant" {
			return nil, &LoadError{Node: n.Name, Op: n.OpType, Err: errors.New("no input")}
		}
		l, err := lowerOp(net, op)
		if err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				return nil, err
			}
			return nil, &LoadError{Node: n.Name, Op: n.OpType, Err: err}
		}
		switch op.(type) {
		case *onnx.Identity, *onnx.Dropout:
			alias[n.Outputs[0]] = n.Inputs[0]
		default:
			if l != nil {
				net.layers = append(net.layers, l)
			}
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
	var sizes map[*layer][2]int // for winoTile
	if slices.ContainsFunc(net.layers, useWino) {
		sizes = convOutSizes(net)
	}
	runtime.GC()
	since := 0
	for _, l := range net.layers {
		if l.expand != nil {
			since += packConv(l.expand, sizes)
		}
		if l.kind == kConv {
			since += packConv(l, sizes)
		}
		if since >= packGCFloats {
			runtime.GC()
			since = 0
		}
	}
}

// packConv packs the weights of the convolution l (for Winograd where it
// pays) and drops the unpacked copy; it returns how many floats it packed.
func packConv(l *layer, sizes map[*layer][2]int) int {
	if tile := winoTile(l, sizes[l][0], sizes[l][1]); tile != 0 {
		l.wino = newWinoWeights(l.w, l.cout, l.cin, tile)
	} else {
		l.packed = gemm.PackA(l.w, l.cout, l.cin*l.kh*l.kw)
	}
	n := len(l.w)
	l.w = nil
	return n
}

// packGCFloats is how many floats packWeights packs between collections:
// 16 MiB, a few collections for ResNet-50, each cheap (weights hold no
// pointers).
const packGCFloats = 4 << 20
