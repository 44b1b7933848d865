package testsupport

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
)

// Reference is what PyTorch gave for one image on one fixture model
// (meta.json "e2e"): the top classes and their probabilities.
type Reference struct {
	Classes       []int     `json:"classes"`
	Probabilities []float64 `json:"probabilities"`
}

// References returns meta.json's end-to-end references, by model name and
// then image file name.
func References(t testing.TB) map[string]map[string]Reference {
	t.Helper()
	var meta struct {
		E2E map[string]map[string]Reference `json:"e2e"`
	}
	if err := json.Unmarshal(ReadFixture(t, "meta.json"), &meta); err != nil {
		t.Fatalf("meta.json: %v", err)
	}
	if len(meta.E2E) == 0 {
		t.Fatal("meta.json has no e2e references")
	}
	return meta.E2E
}

// Top1 is the reference top class and its probability of image on model.
func Top1(t testing.TB, model, image string) (int, float64) {
	t.Helper()
	r, ok := References(t)[model][image]
	if !ok || len(r.Classes) == 0 || len(r.Probabilities) == 0 {
		t.Fatalf("meta.json has no e2e reference for %s %s", model, image)
	}
	return r.Classes[0], r.Probabilities[0]
}

// SyncBuffer is a bytes.Buffer that a logger and a test may share.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
