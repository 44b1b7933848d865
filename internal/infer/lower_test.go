package infer

import (
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/onnx"
)

// TestLowersEveryKnownOperator checks what Supported promises: every
// operator internal/onnx reads is lowered by the engine (it may still
// reject this minimal use of it, but never as an unknown operator).
func TestLowersEveryKnownOperator(t *testing.T) {
	for _, name := range onnx.Operators() {
		t.Run(name, func(t *testing.T) {
			attrs := map[string]any{}
			if name == "Constant" {
				attrs["value_float"] = float32(1)
			}
			op, err := onnx.NewOp(onnx.Node{OpType: name, Name: "n", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}, attrs, 17)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := op.(*onnx.Other); ok {
				t.Fatalf("%s read as Other", name)
			}
			net := &network{consts: map[string]*constant{"w": {shape: []int{1}, f: []float32{1}}}}
			if _, err := lowerOp(net, op); err != nil && strings.Contains(err.Error(), "unsupported operator") {
				t.Errorf("lowerOp: %v", err)
			}
			if !Supported(name) {
				t.Errorf("Supported(%q) = false", name)
			}
		})
	}
	if Supported("HardSwash") {
		t.Error("Supported(HardSwash) = true")
	}
}
