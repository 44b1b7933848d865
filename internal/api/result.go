package api

import "github.com/mlserve/mlserve/internal/infer"

// Codes of items that failed outside the engine, in result and failure
// records.
const (
	CodeReadFailed  = "read_failed"  // the input could not be read
	CodeWriteFailed = "write_failed" // the output could not be written
)

// Result is the one JSON result every mode emits: the CLI's --json lines,
// the HTTP and Lambda responses and the batch output files. It is the
// engine's infer.Result plus what only a mode knows.
type Result struct {
	Model       string             `json:"model"`
	Predictions []infer.Prediction `json:"predictions"`
	Image       *infer.ImageInfo   `json:"image,omitempty"`
	TimingsMs   *Timings           `json:"timings_ms,omitempty"`
	// Source names where the image came from (a file path or URI) when the
	// mode knows one.
	Source *Source `json:"source,omitempty"`
	// Error is set instead of Predictions when this item failed.
	Error *ErrorInfo `json:"error,omitempty"`
}

// Timings are the engine's per-stage milliseconds, plus the time an image
// waited for its batch where a mode batches requests (`serve`).
type Timings struct {
	Queue float64 `json:"queue,omitempty"`
	infer.Timings
}

// Source identifies an input by URI, with its size and ETag where known.
type Source struct {
	URI  string `json:"uri"`
	Size int64  `json:"size,omitempty"`
	ETag string `json:"etag,omitempty"`
}

// FromEngine is the wire form of an engine result.
func FromEngine(r infer.Result) Result {
	out := Result{Model: r.Model, Predictions: r.Predictions, Image: r.Image}
	if r.TimingsMs != nil {
		out.TimingsMs = &Timings{Timings: *r.TimingsMs}
	}
	if r.Error != nil {
		out.Error = &ErrorInfo{Code: r.Error.Code, Message: r.Error.Message}
	}
	return out
}

// FromEngineAll is FromEngine of each result.
func FromEngineAll(rs []infer.Result) []Result {
	out := make([]Result, len(rs))
	for i, r := range rs {
		out[i] = FromEngine(r)
	}
	return out
}

// Failed is the Result of an item that failed with code and message.
func Failed(model, code, message string) Result {
	return Result{Model: model, Error: &ErrorInfo{Code: code, Message: message}}
}
