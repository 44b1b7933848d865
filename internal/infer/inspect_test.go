package infer

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mlserve/mlserve/internal/onnx"
)

func TestInspectFixtures(t *testing.T) {
	tests := []struct {
		file    string
		opset   int64
		ops     []string
		inShape []string
	}{
		// Opsets and operators from the fixtures' meta.json and zoo-like.json.
		{"mini-v1-opset11.onnx", 11, []string{"Add", "BatchNormalization", "Conv", "Flatten", "Gemm", "GlobalAveragePool", "MaxPool", "Relu"}, []string{"N", "3", "224", "224"}},
		{"mini-v2-view-opset11.onnx", 11, []string{"Add", "BatchNormalization", "Concat", "Constant", "Conv", "Gather", "Gemm", "GlobalAveragePool", "MaxPool", "Relu", "Reshape", "Shape", "Unsqueeze"}, nil},
		{"zoo-v2-opset7.onnx", 7, []string{"Add", "BatchNormalization", "Conv", "Flatten", "Gemm", "GlobalAveragePool", "MaxPool", "Relu"}, nil},
		{"mini-v1-opset17-folded.onnx", 17, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d, err := onnx.Inspect(filepath.Join(fixtures, "models", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if d.Opset() != tt.opset {
				t.Errorf("opset %d, want %d", d.Opset(), tt.opset)
			}
			if tt.ops != nil && !reflect.DeepEqual(d.OperatorNames(), tt.ops) {
				t.Errorf("operators %v, want %v", d.OperatorNames(), tt.ops)
			}
			if len(d.Inputs) != 1 || d.Inputs[0].Name != "data" || d.Inputs[0].Type != "float32" {
				t.Errorf("inputs %+v, want one float32 input named data (initializers excluded)", d.Inputs)
			}
			if tt.inShape != nil && !reflect.DeepEqual(d.Inputs[0].Shape, tt.inShape) {
				t.Errorf("input shape %v, want %v", d.Inputs[0].Shape, tt.inShape)
			}
			if len(d.Outputs) != 1 || d.Parameters == 0 {
				t.Errorf("outputs %+v, parameters %d", d.Outputs, d.Parameters)
			}
		})
	}
	// The parameter count agrees with what the engine loads.
	c, err := LoadFile(filepath.Join(fixtures, "models/mini-v1-opset11.onnx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := onnx.Inspect(filepath.Join(fixtures, "models/mini-v1-opset11.onnx"))
	if c.Info().Parameters != d.Parameters {
		t.Errorf("engine counts %d parameters, Inspect %d", c.Info().Parameters, d.Parameters)
	}
}
