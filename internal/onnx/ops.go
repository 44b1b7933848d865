package onnx

// Node is what every operation has: its operator, its name (the name of its
// first output) and its inputs and outputs ("" for an omitted optional
// input).
type Node struct {
	OpType  string
	Name    string
	Inputs  []string
	Outputs []string
}

// Base returns the node itself: every operation embeds a Node.
func (n *Node) Base() *Node { return n }

// Op is one operation of the graph: a pointer to one of the structs below,
// with its attributes read and defaulted as the ONNX operator specification
// says, or *Other for an operator this package does not know.
type Op interface {
	Base() *Node
}

// Operators with attributes.
type (
	Conv struct {
		Node
		KernelShape, Strides, Pads, Dilations []int64 // nil when not given
		Group                                 int64
		AutoPad                               string
	}
	BatchNormalization struct {
		Node
		Epsilon      float32
		Spatial      int64 // opset < 9
		TrainingMode int64
	}
	MaxPool struct {
		Node
		KernelShape, Strides, Pads, Dilations []int64
		CeilMode                              bool
		AutoPad                               string
	}
	AveragePool struct {
		Node
		KernelShape, Strides, Pads []int64
		CeilMode, CountIncludePad  bool
		AutoPad                    string
	}
	Flatten struct {
		Node
		Axis int64
	}
	Reshape struct {
		Node
		AllowZero bool
	}
	Gemm struct {
		Node
		Alpha, Beta    float32
		TransA, TransB bool
	}
	Softmax struct {
		Node
		Axis int64 // defaulted by opset: 1 before 13, -1 from 13
	}
	Constant struct {
		Node
		Value *Tensor
	}
	ConstantOfShape struct {
		Node
		Value *Tensor // nil: a float 0
	}
	Shape struct {
		Node
		Start, End *int64
	}
	Gather struct {
		Node
		Axis int64
	}
	Unsqueeze struct {
		Node
		Axes []int64 // opset < 13; later an input
	}
	Squeeze struct {
		Node
		Axes []int64
	}
	Concat struct {
		Node
		Axis int64
	}
	Cast struct {
		Node
		To int64
	}
	Clip struct {
		Node
		Min, Max *float32 // opset < 11; later inputs
	}
	HardSigmoid struct {
		Node
		Alpha, Beta float32
	}
	Pad struct {
		Node
		Mode  string
		Pads  []int64 // opset < 11; later an input
		Value float32
	}
	Transpose struct {
		Node
		Perm []int64 // nil: reverse the axes
	}
	ReduceMean struct {
		Node
		Axes     []int64
		KeepDims bool
	}
	LayerNormalization struct {
		Node
		Axis    int64
		Epsilon float32
	}
)

// Operators without attributes the engine reads.
type (
	Relu              struct{ Node }
	Add               struct{ Node }
	Sub               struct{ Node }
	Mul               struct{ Node }
	Div               struct{ Node }
	Pow               struct{ Node }
	GlobalAveragePool struct{ Node }
	MatMul            struct{ Node }
	Identity          struct{ Node }
	Dropout           struct{ Node } // inference: the identity
	Sigmoid           struct{ Node }
	HardSwish         struct{ Node }
	Erf               struct{ Node }
	Sqrt              struct{ Node }
	Equal             struct{ Node }
	Where             struct{ Node }
	Expand            struct{ Node }
	Slice             struct{ Node } // opset 10+: starts, ends, axes, steps are inputs
	// Other is an operator this package does not read.
	Other struct{ Node }
)
