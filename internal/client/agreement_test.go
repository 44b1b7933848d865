package client

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/models"
)

// TestTop1Agreement measures what shrinking on the client costs: the top-1
// class of each fixture image, sent whole (the server's full-resolution
// preprocessing) and shrunk, on the fixture models, whose classes were
// spread so that each image gets its own top-1 (see the fixtures README).
// The README quotes the numbers this logs.
func TestTop1Agreement(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every fixture model")
	}
	var files []string
	for _, glob := range []string{"models/mini-v1-opset11.onnx", "models/mini-v2-opset11.onnx", "models/zoo-v*.onnx", "families/*-opset13.onnx"} {
		m, _ := filepath.Glob(filepath.Join(testsupport.Fixtures(t), glob))
		files = append(files, m...)
	}
	var clfs []*infer.Classifier
	for _, f := range files {
		clf, err := infer.LoadFile(f, infer.Options{Labels: models.ImageNetLabels()})
		if err != nil { // the families need operators this engine may lack
			t.Logf("%s: not loaded: %v", filepath.Base(f), err)
			continue
		}
		clfs = append(clfs, clf)
	}
	imgs := make([][]byte, len(fixtureImages))
	for i, name := range fixtureImages {
		imgs[i] = testsupport.ReadFixture(t, "images", name)
	}
	for _, shorter := range []int{280, DefaultShorter} {
		small := make([][]byte, len(imgs))
		resized := 0
		for i, data := range imgs {
			s, err := Shrink(data, shorter, DefaultQuality, 0)
			if err != nil {
				t.Fatal(err)
			}
			small[i] = s.Data
			if s.Resized {
				resized++
			}
		}
		agree, total, distinct := 0, 0, map[[2]int]bool{}
		for m, clf := range clfs {
			f := clf.Info().Name
			full, shrunk := clf.Classify(context.Background(), imgs, 1), clf.Classify(context.Background(), small, 1)
			for i := range imgs {
				if full[i].Error != nil || shrunk[i].Error != nil {
					t.Fatalf("%s %s: %v %v", filepath.Base(f), fixtureImages[i], full[i].Error, shrunk[i].Error)
				}
				total++
				distinct[[2]int{m, full[i].Predictions[0].ClassID}] = true
				if full[i].Predictions[0].ClassID == shrunk[i].Predictions[0].ClassID {
					agree++
				} else if shorter == DefaultShorter {
					t.Errorf("%s %s: top-1 %d shrunk to %d, %d whole", filepath.Base(f), fixtureImages[i],
						shrunk[i].Predictions[0].ClassID, shorter, full[i].Predictions[0].ClassID)
				}
			}
		}
		t.Logf("shorter side %d: %d of %d images resized; top-1 agrees on %d of %d (image, model) pairs over %d models (%d distinct top-1 classes)",
			shorter, resized, len(imgs), agree, total, len(clfs), len(distinct))
		if len(clfs) < 4 || agree*100 < total*90 {
			t.Errorf("shorter side %d: top-1 agrees on %d of %d over %d models", shorter, agree, total, len(clfs))
		}
	}
}
