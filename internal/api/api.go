// Package api is the wire schema every mode emits: the JSON result (the
// engine's infer.Result plus queue time, source and ETag), the error codes
// of whole-request failures and the JSON error body, and the request fields
// (top_k, base64 images) that every transport validates the same way.
package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Error codes of whole-request failures. Per-image failures carry the
// engine's codes (imageprep's, "internal", "canceled").
const (
	CodeBadRequest       = "bad_request"            // malformed body or parameters
	CodeNoImage          = "no_image"               // the body holds no image
	CodeBodyTooLarge     = "body_too_large"         // more bytes than the body limit
	CodeTooManyImages    = "too_many_images"        // more images than one request may hold
	CodeUnsupportedMedia = "unsupported_media_type" // a Content-Type mlserve does not read
	CodeOverloaded       = "overloaded"             // the queue is full
	CodeNotReady         = "not_ready"              // the model is loading or the server draining
	CodeDeadline         = "deadline_exceeded"      // the request deadline elapsed
	CodeSubmitOnly       = "submit_only"            // a function without a model (MLSERVE_SUBMIT_ONLY)
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
)

// ErrorInfo is a failure: a stable machine-readable code and a message.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorBody is the JSON of every error response: {"error": {...}}.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// MaxTopK bounds top_k in every mode.
const MaxTopK = 1000

// CheckTopK reports whether k is a valid top_k (1 to MaxTopK).
func CheckTopK(k int) error {
	if k < 1 || k > MaxTopK {
		return fmt.Errorf("top_k must be an integer from 1 to %d, got %d", MaxTopK, k)
	}
	return nil
}

// DecodeBase64 decodes an image sent as text: standard or URL-safe base64,
// padded or not, surrounded by white space or not, or a data: URL
// ("data:image/jpeg;base64,...") as browsers make them.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "data:") {
		i := strings.Index(s, ";base64,")
		if i < 0 {
			return nil, errors.New("data URL is not base64")
		}
		s = s[i+len(";base64,"):]
	}
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	data, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	return data, nil
}
