package infer

import "github.com/mlserve/mlserve/internal/api"

// Result is the one JSON result schema every mode emits: the CLI's --json
// lines, the HTTP and Lambda responses and the batch output files.
type Result struct {
	Model       string       `json:"model"`
	Predictions []Prediction `json:"predictions"`
	Image       *ImageInfo   `json:"image,omitempty"`
	TimingsMs   *Timings     `json:"timings_ms,omitempty"`
	// Source names where the image came from (a file path or URI) when the
	// mode knows one.
	Source *Source `json:"source,omitempty"`
	// Error is set instead of Predictions when this item failed.
	Error *ErrorInfo `json:"error,omitempty"`
}

// Prediction is one of the top-k classes.
type Prediction struct {
	Rank        int     `json:"rank"`
	ClassID     int     `json:"class_id"`
	Label       string  `json:"label,omitempty"`
	Probability float64 `json:"probability"`
}

// ImageInfo describes the decoded image, after EXIF orientation.
type ImageInfo struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format string `json:"format"`
}

// Timings are wall-clock milliseconds spent in each stage for this item.
// Inference is the time of the whole engine batch the item ran in.
type Timings struct {
	Queue      float64 `json:"queue,omitempty"`
	Decode     float64 `json:"decode"`
	Preprocess float64 `json:"preprocess"`
	Inference  float64 `json:"inference"`
	BatchSize  int     `json:"batch_size,omitempty"`
}

// Source identifies an input by URI, with its size and ETag where known.
type Source struct {
	URI  string `json:"uri"`
	Size int64  `json:"size,omitempty"`
	ETag string `json:"etag,omitempty"`
}

// ErrorInfo is a per-item failure: a stable machine-readable code and a message.
type ErrorInfo = api.ErrorInfo
