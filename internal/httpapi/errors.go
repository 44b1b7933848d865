package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
)

// StatusClientClosed is nginx's "client closed request": nobody reads it,
// it is kept so logs and metrics tell a client that went away apart.
const StatusClientClosed = 499

// statuses is the one table of error codes and their HTTP statuses. A code
// not listed is a 500.
var statuses = map[string]int{
	api.CodeBadRequest:        http.StatusBadRequest,
	api.CodeNoImage:           http.StatusBadRequest,
	api.CodeBodyTooLarge:      http.StatusRequestEntityTooLarge,
	api.CodeTooManyImages:     http.StatusRequestEntityTooLarge,
	api.CodeUnsupportedMedia:  http.StatusUnsupportedMediaType,
	api.CodeOverloaded:        http.StatusServiceUnavailable,
	api.CodeNotReady:          http.StatusServiceUnavailable,
	api.CodeDeadline:          http.StatusGatewayTimeout,
	api.CodeSubmitOnly:        http.StatusNotImplemented,
	api.CodeNotFound:          http.StatusNotFound,
	api.CodeMethodNotAllowed:  http.StatusMethodNotAllowed,
	CodeForbiddenKey:          http.StatusForbidden,
	CodeNoObject:              http.StatusNotFound,
	CodeObjectTooLarge:        http.StatusRequestEntityTooLarge,
	CodeUploadsDisabled:       http.StatusNotImplemented,
	imageprep.CodeEmpty:       http.StatusBadRequest,
	imageprep.CodeNotImage:    http.StatusBadRequest,
	imageprep.CodeTruncated:   http.StatusBadRequest,
	imageprep.CodeCorrupt:     http.StatusBadRequest,
	imageprep.CodeUnsupported: http.StatusUnsupportedMediaType,
	imageprep.CodeTooLarge:    http.StatusRequestEntityTooLarge,
	infer.CodeCanceled:        StatusClientClosed,
	infer.CodeInternal:        http.StatusInternalServerError,
}

// Status is the HTTP status of an error code.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is a failure with its code; its status comes from the code.
type Error struct {
	Code    string
	Message string
	Err     error // the cause, for logs and errors.Is
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Status is the error's HTTP status.
func (e *Error) Status() int { return Status(e.Code) }

// Sentinel errors a Classifier returns.
var (
	// ErrOverloaded: admitting the request would overflow the queue.
	ErrOverloaded = errors.New("too many images waiting for the engine; retry later")
	// ErrDraining: the server is shutting down.
	ErrDraining = errors.New("draining: the server is shutting down")
	// ErrNotReady: the model is still loading.
	ErrNotReady = errors.New("loading the model")
)

// toError maps an error of one image or the whole request to its code and
// message. maxPixels goes into the message of a too-large image.
func toError(err error, maxPixels int) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ie *imageprep.Error
	if errors.As(err, &ie) {
		msg := ImageError(ie.Code, ie.Err.Error()).Message
		var budget *admit.TooLargeError
		if ie.Code == imageprep.CodeTooLarge && !errors.As(err, &budget) {
			msg = fmt.Sprintf("image exceeds the limit of %d pixels: %s", maxPixels, msg)
		}
		return &Error{Code: ie.Code, Message: msg, Err: err}
	}
	switch {
	case errors.Is(err, ErrOverloaded):
		return &Error{Code: api.CodeOverloaded, Message: err.Error(), Err: err}
	case errors.Is(err, ErrDraining), errors.Is(err, ErrNotReady):
		return &Error{Code: api.CodeNotReady, Message: err.Error(), Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: api.CodeDeadline, Message: "request deadline exceeded", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Code: infer.CodeCanceled, Message: "request canceled", Err: err}
	}
	return &Error{Code: infer.CodeInternal, Message: err.Error(), Err: err}
}

// ImageError is the failure of one image with the engine's code and
// message; a message that starts with its code ("not_an_image: ...", as
// the engine's errors print) does not repeat it.
func ImageError(code, message string) *Error {
	for strings.HasPrefix(message, code+": ") {
		message = strings.TrimPrefix(message, code+": ")
	}
	return &Error{Code: code, Message: message}
}

// serverSide reports whether e is the server's failure rather than the
// image's: 5xx, or the client going away.
func serverSide(e *Error) bool {
	s := e.Status()
	return s >= 500 || s == StatusClientClosed
}

// WriteError writes err as a JSON error response with its status.
func WriteError(w http.ResponseWriter, err error) {
	e := toError(err, imageprep.DefaultMaxPixels)
	writeError(w, e)
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.Status() == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, e.Status(), api.ErrorBody{Error: api.ErrorInfo{Code: e.Code, Message: e.Message}})
}

// WriteJSON writes v as the JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
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
