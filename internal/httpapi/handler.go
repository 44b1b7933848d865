// Package httpapi is mlserve's HTTP API as one http.Handler: POST /predict
// (body parsing, top_k, error codes and their statuses, the result JSON)
// and /openapi.json. `mlserve serve` puts its batcher behind it; the Lambda
// adapter turns API Gateway and Function URL events into *http.Request and
// serves them through the same handler, so both answer a request the same.
package httpapi

import (
	"context"
	_ "embed"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
)

// Classifier is the engine as a transport provides it.
type Classifier interface {
	// Accept is asked before a request's body is read: nil to go on, or
	// the error that refuses it (ErrNotReady, ErrOverloaded or an *Error).
	// classes is the model's class count (0 when unknown): top_k is capped
	// to it.
	Accept() (classes int, err error)
	// Classify classifies the images of one request. errs[i] is image i's
	// failure; results[i] then still names the model.
	Classify(ctx context.Context, images [][]byte, topK int) (results []api.Result, errs []error)
}

// Route is an extra route the transport serves beside /predict.
type Route struct {
	Method, Path string
	Handler      http.Handler
}

// Outcome is what one /predict did, for access logs and metrics.
type Outcome struct {
	Images int
	// Code is the whole request's error code, "" when it answered 200.
	Code string
	// ImageCodes holds each image's outcome: "ok" or its error code.
	ImageCodes []string
}

// Options tune the handler; zero fields take the defaults in parentheses.
type Options struct {
	TopK         int   // classes per image without ?top_k= (5)
	MaxBodyBytes int64 // request body limit (10 MiB, the API Gateway limit)
	MaxImages    int   // images in one request (16)
	// MaxPixels is the engine's pixel limit, only quoted in 413 messages
	// (imageprep.DefaultMaxPixels).
	MaxPixels int
	Timeout   time.Duration // per-request deadline (none)
	// MaxReading bounds the request bodies being read at once; past it a
	// request gets 503 before its body is read (64).
	MaxReading int
	// BodyLimitHint is added to the message of a body over the limit (the
	// Lambda adapter points to the S3 batch path).
	BodyLimitHint string
	// ImageErrorHint, when set, may add a hint to the message of a single
	// image's 4xx failure.
	ImageErrorHint func(r *http.Request) string
	// Observe, when set, is told what each /predict did.
	Observe func(w http.ResponseWriter, r *http.Request, o Outcome)
	// Routes are served beside /predict, /v1/predict and /openapi.json.
	Routes []Route
	// Uploads, when set, serves POST /uploads and /predict by key (uploads.go).
	Uploads *Uploads
}

func (o Options) withDefaults() Options {
	if o.TopK <= 0 {
		o.TopK = 5
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 10 << 20
	}
	if o.MaxImages <= 0 {
		o.MaxImages = 16
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = imageprep.DefaultMaxPixels
	}
	if o.MaxReading <= 0 {
		o.MaxReading = 64
	}
	o.Uploads = o.Uploads.withDefaults()
	return o
}

// Handler serves the HTTP API.
type Handler struct {
	opts    Options
	clf     Classifier
	mux     *http.ServeMux
	paths   map[string]bool
	reading chan struct{} // semaphore of Options.MaxReading
}

var _ http.Handler = (*Handler)(nil)

// New returns the API in front of clf.
func New(opts Options, clf Classifier) *Handler {
	opts = opts.withDefaults()
	h := &Handler{opts: opts, clf: clf, mux: http.NewServeMux(), paths: map[string]bool{}, reading: make(chan struct{}, opts.MaxReading)}
	routes := append([]Route{
		{"POST", "/predict", http.HandlerFunc(h.predict)},
		{"POST", "/v1/predict", http.HandlerFunc(h.predict)},
		{"GET", "/openapi.json", http.HandlerFunc(serveOpenAPI)},
		{"POST", "/uploads", http.HandlerFunc(h.uploads)},
	}, opts.Routes...)
	allow := map[string][]string{}
	for _, r := range routes {
		h.mux.Handle(r.Method+" "+r.Path, r.Handler)
		allow[r.Path] = append(allow[r.Path], r.Method)
		if r.Method == "GET" {
			allow[r.Path] = append(allow[r.Path], "HEAD")
		}
	}
	// Known paths with another method: 405 in JSON (the mux's own is text).
	for path, methods := range allow {
		sort.Strings(methods)
		h.paths[path] = true
		allowed := strings.Join(methods, ", ")
		h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowed)
			writeError(w, Errorf(api.CodeMethodNotAllowed, "%s %s: use %s", r.Method, path, allowed))
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, Errorf(api.CodeNotFound, "no route %s %s; see /openapi.json", r.Method, r.URL.Path))
	})
	return h
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// HasRoute reports whether path is one of the handler's routes.
func (h *Handler) HasRoute(path string) bool { return h.paths[path] }

// BodyTooLarge is the error of a request over the body limit.
func (h *Handler) BodyTooLarge() *Error {
	return h.withHint(readError(errBodyTooLarge, h.opts.MaxBodyBytes))
}

func (h *Handler) withHint(err error) *Error {
	e := toError(err, h.opts.MaxPixels)
	if e.Code != api.CodeBodyTooLarge {
		return e
	}
	if h.opts.BodyLimitHint != "" {
		e = &Error{Code: e.Code, Message: e.Message + ": " + h.opts.BodyLimitHint, Err: e.Err}
	}
	if h.opts.Uploads != nil {
		e = &Error{Code: e.Code, Message: e.Message + "; " + uploadHint, Err: e.Err}
	}
	return e
}

func (h *Handler) predict(w http.ResponseWriter, r *http.Request) {
	o := Outcome{}
	if h.opts.Observe != nil {
		defer func() { h.opts.Observe(w, r, o) }()
	}
	fail := func(err error) {
		e := h.withHint(err)
		o.Code = e.Code
		writeError(w, e)
	}
	classes, err := h.clf.Accept()
	if err != nil {
		fail(err)
		return
	}
	topK, err := parseTopK(r.URL.Query(), h.opts.TopK)
	if err != nil {
		fail(err)
		return
	}
	if classes > 0 && topK > classes {
		topK = classes // a model with fewer classes reports them all
	}
	if r.ContentLength > h.opts.MaxBodyBytes {
		fail(readError(errBodyTooLarge, h.opts.MaxBodyBytes))
		return
	}
	ctx := r.Context()
	if h.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opts.Timeout)
		defer cancel()
	}
	b, err := h.readBody(w, r)
	if err != nil {
		fail(err)
		return
	}
	if b.Ref.set() {
		data, err := h.readUpload(ctx, b.Ref)
		if err != nil {
			fail(err)
			return
		}
		b.Images = [][]byte{data}
	}
	o.Images = len(b.Images)
	results, errs := h.clf.Classify(ctx, b.Images, topK)
	o.ImageCodes = make([]string, len(errs))
	for i, err := range errs {
		o.ImageCodes[i] = "ok"
		if err != nil {
			o.ImageCodes[i] = toError(err, h.opts.MaxPixels).Code
		}
	}
	if !b.List {
		if errs[0] != nil {
			fail(h.imageError(r, errs[0]))
			return
		}
		WriteJSON(w, http.StatusOK, results[0])
		return
	}
	// A list answers 200 with a per-item error for each bad image; a
	// failure of the server itself (overload, deadline, engine) fails the
	// whole request.
	for _, err := range errs {
		if err != nil && serverSide(toError(err, h.opts.MaxPixels)) {
			fail(err)
			return
		}
	}
	for i, err := range errs {
		if err != nil {
			e := toError(err, h.opts.MaxPixels)
			results[i] = api.Failed(results[i].Model, e.Code, e.Message)
		}
	}
	WriteJSON(w, http.StatusOK, results)
}

// errClientGone is a body cut short: the client closed the connection.
var errClientGone = &Error{Code: infer.CodeCanceled, Message: "the client closed the connection before the whole body arrived"}

// readBody reads and parses the body, at most Options.MaxReading at once.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (body, error) {
	select {
	case h.reading <- struct{}{}:
		defer func() { <-h.reading }()
	default:
		return body{}, Errorf(api.CodeOverloaded, "too many request bodies being read at once (%d); retry later", h.opts.MaxReading)
	}
	src := &watchReader{r: r.Body}
	lr := http.MaxBytesReader(w, io.NopCloser(src), h.opts.MaxBodyBytes)
	b, err := parseBody(r.Header.Get("Content-Type"), lr, r.ContentLength, h.opts.MaxBodyBytes, h.opts.MaxImages)
	if err != nil && src.err != nil {
		return body{}, &Error{Code: errClientGone.Code, Message: errClientGone.Message, Err: src.err}
	}
	if err != nil {
		return body{}, readError(err, h.opts.MaxBodyBytes)
	}
	return b, nil
}

// watchReader remembers a read error of the request body other than EOF:
// the connection failed, so the request is the client's to cancel, not a
// bad body.
type watchReader struct {
	r   io.Reader
	err error
}

func (w *watchReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && w.err == nil {
		w.err = err
	}
	return n, err
}

// imageError is a single image's failure, with the transport's hint when
// it is the image's fault.
func (h *Handler) imageError(r *http.Request, err error) error {
	e := toError(err, h.opts.MaxPixels)
	if h.opts.ImageErrorHint == nil || serverSide(e) {
		return e
	}
	if hint := h.opts.ImageErrorHint(r); hint != "" {
		return &Error{Code: e.Code, Message: e.Message + "; " + hint, Err: e.Err}
	}
	return e
}

// openAPI describes every route; the server's TestOpenAPI keeps it in step.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI) //nolint:errcheck // the client is gone
}

// ClassifyEach runs classify on every image, concurrently when there are
// several, for Classifiers whose engine takes one image at a time.
func ClassifyEach(images [][]byte, classify func(i int, data []byte) (api.Result, error)) ([]api.Result, []error) {
	results := make([]api.Result, len(images))
	errs := make([]error, len(images))
	if len(images) == 1 {
		results[0], errs[0] = classify(0, images[0])
		return results, errs
	}
	var wg sync.WaitGroup
	for i, data := range images {
		wg.Go(func() { results[i], errs[i] = classify(i, data) })
	}
	wg.Wait()
	return results, errs
}
