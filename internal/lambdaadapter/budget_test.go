package lambdaadapter

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
)

// decodingEngine decodes for real (imageprep, to an 8x8 crop) and gives
// every image class 1: an engine, so the handler admits its decodes.
type decodingEngine struct{}

func (decodingEngine) Prepare(data []byte) (*infer.Input, error) {
	in := &infer.Input{Pixels: make([]float32, 3*8*8)}
	info, err := imageprep.Prepare(data, imageprep.Config{ResizeShorter: 8, Crop: 8}, in.Pixels)
	in.Image = info
	return in, err
}

// ClassifyWith prepares each image with prepare (the handler's budgeted
// Prepare) and gives every prepared one class 1.
func (decodingEngine) ClassifyWith(_ context.Context, images [][]byte, _ int, prepare func([]byte) (*infer.Input, error)) []infer.Result {
	out := make([]infer.Result, len(images))
	for i, data := range images {
		if _, err := prepare(data); err != nil {
			out[i] = infer.Result{Model: "decoding", Error: &infer.ErrorInfo{Code: infer.ErrorCode(err), Message: err.Error()}}
			continue
		}
		out[i] = infer.Result{Model: "decoding", Predictions: []infer.Prediction{{Rank: 1, ClassID: 1, Probability: 1}}}
	}
	return out
}

func (decodingEngine) Info() infer.ModelInfo { return infer.ModelInfo{Name: "decoding", Classes: 10} }

// TestHTTPDecodeBudget: the Lambda admits decodes against the same budget
// as serve and batch: an image that needs more than all of it is 413
// too_large naming the budget; one that fits succeeds.
func TestHTTPDecodeBudget(t *testing.T) {
	png := readFixture(t, "images/scene-500x375.png")
	cost, err := imageprep.DecodeCost(png, imageprep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		budget int64
		status int
	}{
		{"fits", cost, http.StatusOK},
		{"over the whole budget", cost - 1, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := admit.New(tt.budget)
			h := New(Config{TopK: 1, DecodeBudget: b}, decodingEngine{}, nil, nil, testLogger(t))
			r := invokeHTTP(t, h, httpEvent(t, "function-url.json", png, true, "image/png"))
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.Body)
			}
			if tt.status != http.StatusOK {
				var e api.ErrorBody
				if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
					t.Fatal(err)
				}
				if e.Error.Code != imageprep.CodeTooLarge || !strings.Contains(e.Error.Message, "decode budget") || strings.Contains(e.Error.Message, "pixels") {
					t.Errorf("error %+v, want too_large naming the decode budget", e.Error)
				}
			}
			if b.Peak() > b.Size() || b.InUse() != 0 {
				t.Errorf("peak %d, in use %d, budget %d", b.Peak(), b.InUse(), b.Size())
			}
		})
	}
}

// Classify is never called: the handler wraps an engine in its budget.
func (decodingEngine) Classify(context.Context, [][]byte, int) []infer.Result {
	panic("decodingEngine.Classify called: the decode budget was bypassed")
}
