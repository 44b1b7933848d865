package infer

// TEMPORARY stub so the adapters compile while the engine is written.

import (
	"context"
	"errors"
)

// Classifier is a loaded model. It is safe for concurrent use.
type Classifier struct {
	info ModelInfo
}

// LoadFile loads an ONNX model file.
func LoadFile(path string, opts Options) (*Classifier, error) { return nil, errors.New("engine not implemented yet") }

// LoadBytes loads an ONNX model from memory.
func LoadBytes(data []byte, opts Options) (*Classifier, error) {
	return nil, errors.New("engine not implemented yet")
}

// Info describes the loaded model.
func (c *Classifier) Info() ModelInfo { return c.info }

// Prepare decodes and preprocesses one image. Errors are *imageprep.Error for bad input.
func (c *Classifier) Prepare(data []byte) (*Input, error) { return nil, errors.New("not implemented") }

// Run classifies prepared inputs as one engine batch (split at MaxBatch) and
// returns one Result per input, in order, each with its top-k predictions.
func (c *Classifier) Run(ctx context.Context, inputs []*Input, topK int) ([]Result, error) {
	return nil, errors.New("not implemented")
}

// Classify prepares and runs images; an image that fails gets a Result with
// Error set, the others still get their predictions.
func (c *Classifier) Classify(ctx context.Context, images [][]byte, topK int) []Result { return nil }

// Warmup runs one inference on a blank image so the first request is fast.
func (c *Classifier) Warmup(ctx context.Context) error { return nil }
