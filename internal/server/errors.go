package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
)

// Error codes of whole-request failures. Per-image failures carry the
// engine's codes (infer.ErrorCode: the imageprep codes, canceled, internal).
const (
	CodeBadRequest       = "bad_request"            // malformed body or parameters
	CodeNoImage          = "no_image"               // the body holds no image
	CodeBodyTooLarge     = "body_too_large"         // more bytes than --max-body-bytes
	CodeTooManyImages    = "too_many_images"        // more images than the queue holds
	CodeUnsupportedMedia = "unsupported_media_type" // a Content-Type the server does not read
	CodeOverloaded       = "overloaded"             // the queue is full
	CodeNotReady         = "not_ready"              // the model is loading or the server draining
	CodeDeadline         = "deadline_exceeded"      // --timeout elapsed
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
)

// httpError is a failure with its HTTP status and the JSON error it sends.
type httpError struct {
	Status  int
	Code    string
	Message string
	Err     error // the cause, for logs and errors.Is
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }
func (e *httpError) Unwrap() error { return e.Err }

func errorf(status int, code, format string, args ...any) *httpError {
	return &httpError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errOverloaded is returned when admitting a request would overflow the queue.
var errOverloaded = errors.New("server overloaded")

// errDraining is returned to requests still queued when the batcher stops.
var errDraining = errors.New("server shutting down")

// toHTTPError maps an error of one image (or the whole request) to its
// status: 400 for a bad image, 413 too large, 415 unsupported format, 503
// overloaded, 504 deadline, 500 otherwise. maxPixels goes into the message
// of a too-large image.
func toHTTPError(err error, maxPixels int) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	switch code := imageprep.Code(err); code {
	case "":
	case imageprep.CodeTooLarge:
		return &httpError{Status: http.StatusRequestEntityTooLarge, Code: code,
			Message: fmt.Sprintf("image exceeds the limit of %d pixels: %v", maxPixels, err), Err: err}
	case imageprep.CodeUnsupported:
		return &httpError{Status: http.StatusUnsupportedMediaType, Code: code, Message: err.Error(), Err: err}
	default:
		return &httpError{Status: http.StatusBadRequest, Code: code, Message: err.Error(), Err: err}
	}
	switch {
	case errors.Is(err, errOverloaded):
		return &httpError{Status: http.StatusServiceUnavailable, Code: CodeOverloaded,
			Message: "too many images waiting for the engine; retry later", Err: err}
	case errors.Is(err, errDraining):
		return &httpError{Status: http.StatusServiceUnavailable, Code: CodeNotReady, Message: err.Error(), Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &httpError{Status: http.StatusGatewayTimeout, Code: CodeDeadline,
			Message: "request deadline exceeded", Err: err}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this. 499 is nginx's
		// "client closed request", kept so logs and metrics tell it apart.
		return &httpError{Status: 499, Code: infer.CodeCanceled, Message: err.Error(), Err: err}
	}
	return &httpError{Status: http.StatusInternalServerError, Code: infer.CodeInternal, Message: err.Error(), Err: err}
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error infer.ErrorInfo `json:"error"`
}

func writeError(w http.ResponseWriter, e *httpError) {
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, errorBody{Error: infer.ErrorInfo{Code: e.Code, Message: e.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types are encoded: a programming error
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"encode response"}}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client is gone; the access log has the status
}
