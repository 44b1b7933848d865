package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mlserve/mlserve/internal/infer"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h)
	}
	handle("POST", "/predict", s.predict)
	handle("POST", "/v1/predict", s.predict)
	handle("GET", "/healthz", s.healthz)
	handle("GET", "/readyz", s.readyz)
	handle("GET", "/v1/models", s.models)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}))
	handle("GET", "/openapi.json", serveOpenAPI)
	// Known paths with another method: 405 in JSON (the mux's own is text).
	for path, allow := range map[string]string{
		"/predict": "POST", "/v1/predict": "POST", "/healthz": "GET, HEAD", "/readyz": "GET, HEAD",
		"/v1/models": "GET, HEAD", "/metrics": "GET, HEAD", "/openapi.json": "GET, HEAD",
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s %s: use %s", r.Method, path, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "no route %s %s; see /openapi.json", r.Method, r.URL.Path))
	})
	return s.middleware(mux)
}

type ctxKey struct{}

// RequestID returns the request id of a request context ("" outside one).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// requestID echoes a sane X-Request-Id or makes one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 && printable(id) {
		return id
	}
	var b [12]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// middleware sets the request id, counts and times requests and writes
// the access log (probes and scrapes at debug level).
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r)
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), ctxKey{}, id)
		rec := &recorder{ResponseWriter: w}
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		r = r.WithContext(ctx)
		next.ServeHTTP(rec, r)

		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		d := time.Since(start)
		route := r.Pattern
		if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		if route == "/" || route == "" {
			route = "other"
		}
		s.metrics.requests.WithLabelValues(route, statusLabel(rec.status)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(d.Seconds())
		level := slog.LevelInfo
		switch route {
		case "/healthz", "/readyz", "/metrics":
			level = slog.LevelDebug
		}
		s.log.LogAttrs(ctx, level, "request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Int("images", rec.images),
			slog.String("error", rec.errCode),
			slog.Float64("duration_ms", ms(d)),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

func statusLabel(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}

// recorder keeps the status and size of a response for logs and metrics,
// and lets the handler note what it did.
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	images  int
	errCode string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// note records the image count of a /predict for the access log.
func note(w http.ResponseWriter, images int) {
	if r, ok := w.(*recorder); ok {
		r.images = images
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	switch s.state.Load() {
	case stateReady:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	case stateDraining:
		writeError(w, errorf(http.StatusServiceUnavailable, CodeNotReady, "draining"))
	default:
		writeError(w, errorf(http.StatusServiceUnavailable, CodeNotReady, "loading the model"))
	}
}

// modelList is the /v1/models response.
type modelList struct {
	Models []infer.ModelInfo `json:"models"`
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	m := s.model.Load()
	if m == nil {
		writeError(w, errorf(http.StatusServiceUnavailable, CodeNotReady, "loading the model"))
		return
	}
	writeJSON(w, http.StatusOK, modelList{Models: []infer.ModelInfo{m.info}})
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	m := s.model.Load()
	if m == nil {
		s.fail(w, errorf(http.StatusServiceUnavailable, CodeNotReady, "loading the model"))
		return
	}
	topK, err := parseTopK(r.URL.Query(), s.cfg.TopK)
	if err != nil {
		s.fail(w, s.httpError(err))
		return
	}
	if c := m.info.Classes; c > 0 && topK > c {
		topK = c // a model with fewer classes reports them all
	}
	// Refuse before reading the body when nothing could be admitted.
	if m.batch.full() {
		s.fail(w, s.httpError(errOverloaded))
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.fail(w, s.httpError(readError(errBodyTooLarge, s.cfg.MaxBodyBytes)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()

	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	b, err := parseBody(r.Header.Get("Content-Type"), r.Body, r.ContentLength, s.cfg.MaxBodyBytes, s.cfg.Queue)
	if err != nil {
		s.fail(w, s.httpError(err))
		return
	}
	n := len(b.Images)
	if !m.batch.admit(n) {
		s.fail(w, s.httpError(errOverloaded))
		return
	}
	results := make([]infer.Result, n)
	errs := make([]error, n)
	if n == 1 {
		results[0], errs[0] = s.classify(ctx, m, b.Images[0], topK)
	} else {
		var wg sync.WaitGroup
		for i, data := range b.Images {
			wg.Go(func() { results[i], errs[i] = s.classify(ctx, m, data, topK) })
		}
		wg.Wait()
	}
	note(w, n)
	s.countImages(results, errs)

	if !b.List {
		if errs[0] != nil {
			s.fail(w, s.httpError(errs[0]))
			return
		}
		writeJSON(w, http.StatusOK, results[0])
		return
	}
	// A list answers 200 with a per-item error for each bad image; a
	// failure of the server itself (overload, deadline, engine) fails the
	// whole request.
	for _, err := range errs {
		if he := s.httpError(err); he != nil && serverSide(he) {
			s.fail(w, he)
			return
		}
	}
	for i, err := range errs {
		if he := s.httpError(err); he != nil {
			results[i] = infer.Result{Model: m.info.Name, Error: &infer.ErrorInfo{Code: he.Code, Message: he.Message}}
		}
	}
	writeJSON(w, http.StatusOK, results)
}

// httpError is toHTTPError with the server's pixel limit; nil for nil.
func (s *Server) httpError(err error) *httpError {
	if err == nil {
		return nil
	}
	return toHTTPError(err, s.cfg.MaxPixels)
}

// serverSide reports whether e is the server's failure rather than the
// image's: 5xx, or the client going away (499).
func serverSide(e *httpError) bool { return e.Status >= 500 || e.Status == 499 }

// countImages counts each image's outcome: ok, its image error code, or
// the server-side code.
func (s *Server) countImages(results []infer.Result, errs []error) {
	for i, err := range errs {
		code := "ok"
		switch he := s.httpError(err); {
		case he != nil && serverSide(he):
			code = he.Code
		case he != nil:
			code = infer.ErrorCode(err)
		case results[i].Error != nil:
			code = results[i].Error.Code
		}
		s.metrics.images.WithLabelValues(code).Inc()
	}
}

// fail writes a whole-request error and notes its code for the access log.
func (s *Server) fail(w http.ResponseWriter, e *httpError) {
	if r, ok := w.(*recorder); ok {
		r.errCode = e.Code
	}
	writeError(w, e)
}

// classify prepares one admitted image on the request goroutine (at most
// Config.Decoders at once) and runs it through the batcher.
func (s *Server) classify(ctx context.Context, m *model, data []byte, topK int) (infer.Result, error) {
	select {
	case s.decode <- struct{}{}:
	case <-ctx.Done():
		m.batch.abandon()
		return infer.Result{}, ctx.Err()
	}
	if !s.cfg.Overlap {
		s.cpu.RLock()
	}
	in, err := m.eng.Prepare(data)
	if !s.cfg.Overlap {
		s.cpu.RUnlock()
	}
	<-s.decode
	if err != nil {
		m.batch.abandon()
		return infer.Result{}, err
	}
	s.metrics.observeStage(stageDecode, in.Image.DecodeTime)
	s.metrics.observeStage(stagePreprocess, in.Image.PreprocessTime)
	if err := ctx.Err(); err != nil {
		m.batch.abandon()
		return infer.Result{}, err
	}
	return m.batch.do(ctx, in, topK)
}
