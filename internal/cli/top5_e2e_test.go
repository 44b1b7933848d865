package cli

import (
	"testing"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// e2eModels maps meta.json's e2e model names to their fixture files.
var e2eModels = map[string]string{
	"mini-v1":         "mini-v1-opset11.onnx",
	"mini-v2":         "mini-v2-opset11.onnx",
	"mini-v2-view":    "mini-v2-view-opset11.onnx",
	"mini-v1-softmax": "mini-v1-softmax-opset13-folded.onnx",
	"zoo-v1":          "zoo-v1-opset12.onnx",
	"zoo-v2":          "zoo-v2-opset7.onnx",
}

// TestClassifyWholePipeline runs `mlserve classify --json` (decode,
// preprocess, inference, softmax, top-k) on every fixture image with every
// ResNet fixture model and holds all five probabilities to torch's
// (meta.json e2e) within testsupport.Top5Tolerance; the worst difference
// measured is logged.
func TestClassifyWholePipeline(t *testing.T) {
	refs := testsupport.References(t)
	worst := 0.0
	for name, file := range e2eModels {
		want, ok := refs[name]
		if !ok {
			t.Fatalf("meta.json has no e2e entry %s", name)
		}
		t.Run(name, func(t *testing.T) {
			images, rs := classifyFixtures(t, testsupport.Fixtures(t, "models", file), want)
			for i, r := range rs {
				worst = max(worst, testsupport.CheckPredictions(t, images[i], r.Predictions, want[images[i]]))
			}
		})
	}
	if len(refs) != len(e2eModels) {
		t.Errorf("meta.json has %d e2e models, the test knows %d", len(refs), len(e2eModels))
	}
	t.Logf("worst top-5 probability difference from torch: %.2g", worst)
}
