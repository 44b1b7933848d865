package server

import (
	"os"
	"testing"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// TestServeMatchesTorch posts every fixture image to a served ResNet
// fixture model and holds the five probabilities of each answer to torch's
// (meta.json e2e) within testsupport.Top5Tolerance: the whole pipeline
// behind the HTTP API, checked against the independent reference rather
// than the engine's own answer.
func TestServeMatchesTorch(t *testing.T) {
	refs := testsupport.References(t)["mini-v1"]
	entries, err := os.ReadDir(testsupport.Fixtures(t, "images"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(refs) {
		t.Fatalf("%d fixture images, %d references", len(entries), len(refs))
	}
	ts := start(t, Config{}, loadModel(t, miniModel))
	worst := 0.0
	for _, e := range entries {
		ref, ok := refs[e.Name()]
		if !ok {
			t.Fatalf("no e2e reference for %s", e.Name())
		}
		r := do(t, "POST", ts.url+"/predict?top_k=5", "application/octet-stream", readFixture(t, "images/"+e.Name()))
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", e.Name(), r.status, r.body)
		}
		worst = max(worst, testsupport.CheckPredictions(t, e.Name(), r.result(t).Predictions, ref))
	}
	t.Logf("worst top-5 probability difference from torch over %d images: %.2g", len(entries), worst)
}
