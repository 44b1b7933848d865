// Package infer is mlserve's engine: it loads an ONNX image classifier with
// onnx-go, runs it on a gorgonia graph and turns images into Results.
package infer

import (
	"context"
	"errors"
	"io"

	"github.com/mlserve/mlserve/internal/imageprep"
)

// Options configure Load.
type Options struct {
	// Name is the model name reported in results; default: the file name
	// without its extension.
	Name string
	// Labels are the class names in output order; nil reports class ids
	// only. A count that differs from the model's classes is a load error,
	// unless OptionalLabels is set, which drops them instead (default
	// ImageNet names offered to any model).
	Labels         []string
	OptionalLabels bool
	// Preprocess says how images become tensors; zero fields take the
	// ImageNet defaults (256, 224, ImageNet mean/std, 50 MP).
	Preprocess imageprep.Config
	// MaxBatch bounds the batch size of one engine run (default 32); larger
	// Run calls are split.
	MaxBatch int
	// Profile, when set, receives the time and GFLOP/s of every op after
	// each run (MLSERVE_PROFILE=1).
	Profile io.Writer
	// Lanes is how many sub-batches of one batch run at once, each on its
	// own executor sharing the weights (lanes.go); 0 or 1: one, which uses
	// every core per run (a batch of at least GOMAXPROCS images as single
	// images side by side, pieces.go). GOMAXPROCS lanes also run the
	// batches of concurrent callers side by side (MLSERVE_LANES).
	Lanes int
}

// ModelInfo describes a loaded model.
type ModelInfo struct {
	Name       string `json:"name"`
	SHA256     string `json:"sha256"`
	InputName  string `json:"input"`
	InputSize  int    `json:"input_size"`
	Classes    int    `json:"classes"`
	Labels     int    `json:"labels"`
	Parameters int64  `json:"parameters"`
	Opset      int64  `json:"opset"`
}

// Input is one image ready for the engine.
type Input struct {
	Pixels []float32 // [3, size, size], normalized
	Image  imageprep.Info
}

// Error codes of failures that are not about one input image.
const (
	CodeInternal = "internal"
	CodeCanceled = "canceled"
)

// ErrorCode returns the stable code for err: an imageprep code for bad input,
// CodeCanceled for a cancelled or expired context, CodeInternal otherwise.
func ErrorCode(err error) string {
	if c := imageprep.Code(err); c != "" {
		return c
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return CodeCanceled
	}
	return CodeInternal
}

// ErrorResult is the Result of an item that failed with err.
func (c *Classifier) ErrorResult(err error) Result {
	return Result{Model: c.info.Name, Error: &ErrorInfo{Code: ErrorCode(err), Message: err.Error()}}
}
