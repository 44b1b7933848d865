package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/models"
)

// loadModel loads a model (a fixture name or a path) with the ImageNet
// labels, as mlserve does.
func loadModel(t testing.TB, name string) *infer.Classifier {
	t.Helper()
	if !filepath.IsAbs(name) {
		name = filepath.Join(fixtures(t), "models", name)
	}
	c, err := infer.LoadFile(name, infer.Options{Labels: models.ImageNetLabels()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const miniModel = "mini-v1-opset11.onnx"

// TestRealEngine serves the mini fixture model: every image of the shared
// fixtures gives the predictions the engine gives when called directly.
func TestRealEngine(t *testing.T) {
	c := loadModel(t, miniModel)
	ts := start(t, Config{}, c)
	entries, err := os.ReadDir(filepath.Join(fixtures(t), "images")) // every fixture image, under -race too
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 5 {
		t.Fatalf("%d fixture images, want the whole set (../shared/fixtures/images)", len(entries))
	}
	for _, e := range entries {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			img := readFixture(t, "images/"+name)
			want := c.Classify(context.Background(), [][]byte{img}, 3)[0]
			r := do(t, "POST", ts.url+"/predict?top_k=3", "application/octet-stream", img)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got := r.result(t)
			if !reflect.DeepEqual(got.Predictions, want.Predictions) || !reflect.DeepEqual(got.Image, want.Image) || got.Model != want.Model {
				t.Errorf("server %+v %+v\nengine %+v %+v", got.Predictions, got.Image, want.Predictions, want.Image)
			}
		})
	}
	r := do(t, "GET", ts.url+"/v1/models", "", nil)
	var ml modelList
	if err := json.Unmarshal(r.body, &ml); err != nil || len(ml.Models) != 1 {
		t.Fatalf("models: %s", r.body)
	}
	if m := ml.Models[0]; m != c.Info() || m.SHA256 == "" || m.InputSize != 224 || m.Labels != 1000 {
		t.Errorf("models: %+v, engine: %+v", m, c.Info())
	}
}
