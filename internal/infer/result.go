package infer

// Result is the engine's answer for one image. The modes emit it as
// api.Result, which adds what only they know (queue time, source URI, ETag).
type Result struct {
	Model       string       `json:"model"`
	Predictions []Prediction `json:"predictions"`
	Image       *ImageInfo   `json:"image,omitempty"`
	TimingsMs   *Timings     `json:"timings_ms,omitempty"`
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
	Decode     float64 `json:"decode"`
	Preprocess float64 `json:"preprocess"`
	Inference  float64 `json:"inference"`
	BatchSize  int     `json:"batch_size,omitempty"`
}

// ErrorInfo is a per-item failure: a stable machine-readable code and a message.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
