package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/lambdaadapter"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/models"
)

// TestPredictMatchesTorch sends every fixture image in one JSON request
// ({"images": [...]}, top_k=5) to `mlserve serve` and to the Lambda handler
// (HTTP API event), and holds each answer's five probabilities to torch's
// (meta.json e2e) within testsupport.Top5Tolerance, in request order: the
// HTTP API's parsing, batching and result assembly against the independent
// reference.
func TestPredictMatchesTorch(t *testing.T) {
	refs := testsupport.References(t)["mini-v1"]
	entries, err := os.ReadDir(testsupport.Fixtures(t, "images"))
	if err != nil {
		t.Fatal(err)
	}
	var names, images []string
	for _, e := range entries {
		names = append(names, e.Name())
		images = append(images, base64.StdEncoding.EncodeToString(readFile(t, testsupport.Fixtures(t, "images", e.Name()))))
	}
	slices.Reverse(names) // not the order of the directory listing
	slices.Reverse(images)
	body, err := json.Marshal(map[string][]string{"images": images})
	if err != nil {
		t.Fatal(err)
	}
	clf, err := infer.LoadFile(testsupport.Fixtures(t, "models", "mini-v1-opset11.onnx"), infer.Options{Labels: models.ImageNetLabels()})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 8 << 20
	srv := startServer(t, server.Config{MaxBodyBytes: limit}, clf)
	lh := lambdaadapter.New(lambdaadapter.Config{MaxPayload: limit}, clf, nil, nil, discard())
	tc := parityCase{name: "all fixtures", query: "top_k=5", contentType: "application/json", body: body}
	for _, via := range []string{"serve", "lambda"} {
		t.Run(via, func(t *testing.T) {
			var a answer
			if via == "serve" {
				a = srv(t, tc)
			} else {
				a = invokeLambda(t, lh, "v2", tc)
			}
			if a.Status != 200 {
				t.Fatalf("status %d: %.300s", a.Status, a.Body)
			}
			var rs []struct {
				Predictions json.RawMessage `json:"predictions"`
			}
			if err := json.Unmarshal([]byte(a.Body), &rs); err != nil || len(rs) != len(names) {
				t.Fatalf("%d results (%v) for %d images: %.300s", len(rs), err, len(names), a.Body)
			}
			worst := 0.0
			for i, r := range rs {
				worst = max(worst, testsupport.CheckPredictions(t, names[i], r.Predictions, refs[names[i]]))
			}
			t.Logf("worst top-5 probability difference from torch: %.2g", worst)
		})
	}
}
