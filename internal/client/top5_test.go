package client

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/models"
)

// TestFullResolutionMatchesTorch classifies every fixture image through
// the client (FullResolution: the bytes unchanged) against `mlserve serve`
// on a real socket with a ResNet fixture model, and holds the five
// probabilities of each answer to torch's (meta.json e2e) within
// testsupport.Top5Tolerance; the result's image size and format must be
// the original's.
func TestFullResolutionMatchesTorch(t *testing.T) {
	refs := testsupport.References(t)["mini-v1"]
	clf, err := infer.LoadFile(testsupport.Fixtures(t, "models", "mini-v1-opset11.onnx"), infer.Options{Labels: models.ImageNetLabels()})
	if err != nil {
		t.Fatal(err)
	}
	s := server.New(server.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx) //nolint:errcheck // the test is over
		<-done
	})
	if err := s.Load(context.Background(), func(context.Context) (server.Engine, error) { return clf, nil }); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Endpoint: "http://" + ln.Addr().String(), FullResolution: true})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(testsupport.Fixtures(t, "images"))
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for _, e := range entries {
		ref, ok := refs[e.Name()]
		if !ok {
			t.Fatalf("no e2e reference for %s", e.Name())
		}
		data := testsupport.ReadFixture(t, "images", e.Name())
		r, sent, err := c.Classify(context.Background(), data)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if sent.Resized || sent.Bytes != int64(len(data)) {
			t.Errorf("%s: sent %+v, want the %d bytes unchanged", e.Name(), sent, len(data))
		}
		worst = max(worst, testsupport.CheckPredictions(t, e.Name(), r.Predictions, ref))
	}
	t.Logf("worst top-5 probability difference from torch over %d images: %.2g", len(entries), worst)
}
