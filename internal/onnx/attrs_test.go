package onnx

import (
	"reflect"
	"strings"
	"testing"
)

func f32(v float32) *float32 { return &v }
func i64(v int64) *int64     { return &v }

// TestNewOp checks the typed ops against the ONNX operator specification's
// attribute defaults (onnx/docs/Operators.md) and the values given.
func TestNewOp(t *testing.T) {
	node := func(op string) Node {
		return Node{OpType: op, Name: "n", Inputs: []string{"x"}, Outputs: []string{"y"}}
	}
	tests := []struct {
		op    string
		attrs map[string]any
		opset int64
		want  Op
	}{
		{"Conv", nil, 13, &Conv{Node: node("Conv"), Group: 1, AutoPad: "NOTSET"}},
		{"Conv", map[string]any{"strides": []int64{2, 2}, "group": int64(32), "auto_pad": "SAME_UPPER"}, 13,
			&Conv{Node: node("Conv"), Strides: []int64{2, 2}, Group: 32, AutoPad: "SAME_UPPER"}},
		{"BatchNormalization", map[string]any{"momentum": float32(0.9)}, 9, &BatchNormalization{Node: node("BatchNormalization"), Epsilon: 1e-5, Spatial: 1}},
		{"MaxPool", map[string]any{"ceil_mode": int64(1), "kernel_shape": []int64{3, 3}}, 11,
			&MaxPool{Node: node("MaxPool"), KernelShape: []int64{3, 3}, CeilMode: true, AutoPad: "NOTSET"}},
		{"AveragePool", map[string]any{"count_include_pad": int64(1)}, 11, &AveragePool{Node: node("AveragePool"), CountIncludePad: true, AutoPad: "NOTSET"}},
		{"Gemm", map[string]any{"transB": int64(1), "alpha": float32(0.5)}, 11, &Gemm{Node: node("Gemm"), Alpha: 0.5, Beta: 1, TransB: true}},
		{"Flatten", nil, 11, &Flatten{Node: node("Flatten"), Axis: 1}},
		{"Softmax", nil, 11, &Softmax{Node: node("Softmax"), Axis: 1}},
		{"Softmax", nil, 13, &Softmax{Node: node("Softmax"), Axis: -1}},
		{"ReduceMean", nil, 13, &ReduceMean{Node: node("ReduceMean"), KeepDims: true}},
		{"HardSigmoid", nil, 13, &HardSigmoid{Node: node("HardSigmoid"), Alpha: 0.2, Beta: 0.5}},
		{"Clip", map[string]any{"min": float32(0), "max": float32(6)}, 6, &Clip{Node: node("Clip"), Min: f32(0), Max: f32(6)}},
		{"Clip", nil, 13, &Clip{Node: node("Clip")}},
		{"Shape", map[string]any{"start": int64(1)}, 15, &Shape{Node: node("Shape"), Start: i64(1)}},
		{"Pad", map[string]any{"pads": []int64{0, 0, 1, 1, 0, 0, 1, 1}}, 2, &Pad{Node: node("Pad"), Mode: "constant", Pads: []int64{0, 0, 1, 1, 0, 0, 1, 1}}},
		{"LayerNormalization", map[string]any{"stash_type": int64(1)}, 17, &LayerNormalization{Node: node("LayerNormalization"), Axis: -1, Epsilon: 1e-5}},
		{"Constant", map[string]any{"value_ints": []int64{1, -1}}, 13, &Constant{Node: node("Constant"), Value: &Tensor{Shape: []int{2}, Int: []int64{1, -1}}}},
		{"Constant", map[string]any{"value_float": float32(2)}, 13, &Constant{Node: node("Constant"), Value: &Tensor{Float: []float32{2}}}},
		{"Dropout", map[string]any{"ratio": float32(0.5)}, 11, &Dropout{node("Dropout")}},
		{"Mish", map[string]any{"whatever": int64(1)}, 18, &Other{node("Mish")}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			got, err := NewOp(node(tt.op), tt.attrs, tt.opset)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	errs := []struct {
		op    string
		attrs map[string]any
		want  string
	}{
		{"Conv", map[string]any{"group": "2"}, "attribute group: want an int, got string"},
		{"Conv", map[string]any{"dilation": []int64{1}}, `unsupported attribute "dilation"`},
		{"Constant", map[string]any{"value_string": "a"}, `unsupported attribute "value_string"`},
		{"Constant", nil, "Constant without a supported value"},
		{"Constant", map[string]any{"value_floats": []int64{1}}, "attribute value_floats: want floats"},
		{"Relu", map[string]any{"alpha": float32(1)}, `unsupported attribute "alpha"`},
	}
	for _, tt := range errs {
		_, err := NewOp(node(tt.op), tt.attrs, 13)
		if ne, ok := err.(*NodeError); !ok || ne.Op != tt.op || ne.Node != "n" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %v: err %v, want a *NodeError with %q", tt.op, tt.attrs, err, tt.want)
		}
	}
}
