package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/httpapi"
	"github.com/mlserve/mlserve/internal/infer"
)

func (s *Server) routes() http.Handler {
	metricsHandler := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	})
	api := httpapi.New(httpapi.Options{
		TopK:         s.cfg.TopK,
		MaxBodyBytes: s.cfg.MaxBodyBytes,
		MaxImages:    s.cfg.MaxImages,
		MaxPixels:    s.cfg.MaxPixels,
		Timeout:      s.cfg.Timeout,
		Observe:      s.observe,
		Uploads:      s.cfg.Uploads,
		Routes: []httpapi.Route{
			{Method: "GET", Path: "/healthz", Handler: http.HandlerFunc(s.healthz)},
			{Method: "GET", Path: "/readyz", Handler: http.HandlerFunc(s.readyz)},
			{Method: "GET", Path: "/v1/models", Handler: http.HandlerFunc(s.models)},
			{Method: "GET", Path: "/metrics", Handler: metricsHandler},
		},
	}, (*predictor)(s))
	return s.middleware(api)
}

type ctxKey struct{}

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

// observe notes what a /predict did for the access log and counts each
// image's outcome.
func (s *Server) observe(w http.ResponseWriter, _ *http.Request, o httpapi.Outcome) {
	if r, ok := w.(*recorder); ok {
		r.images, r.errCode = o.Images, o.Code
	}
	for _, code := range o.ImageCodes {
		s.metrics.images.WithLabelValues(code).Inc()
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	switch s.state.Load() {
	case stateReady:
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	case stateDraining:
		httpapi.WriteError(w, httpapi.ErrDraining)
	default:
		httpapi.WriteError(w, httpapi.ErrNotReady)
	}
}

// modelList is the /v1/models response.
type modelList struct {
	Models []infer.ModelInfo `json:"models"`
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	m := s.model.Load()
	if m == nil {
		httpapi.WriteError(w, httpapi.ErrNotReady)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, modelList{Models: []infer.ModelInfo{m.info}})
}

// predictor is the server as the API's Classifier: readiness, admission
// against the queue, and the batcher.
type predictor Server

var _ httpapi.Classifier = (*predictor)(nil)

// Accept refuses a request before its body is read when the model is not
// loaded or nothing could be admitted.
func (p *predictor) Accept() (int, error) {
	m := p.model.Load()
	switch {
	case m == nil:
		return 0, httpapi.ErrNotReady
	case m.batch.full():
		return 0, httpapi.ErrOverloaded
	}
	return m.info.Classes, nil
}

// Classify admits the request's images and runs each through the batcher.
func (p *predictor) Classify(ctx context.Context, images [][]byte, topK int) ([]api.Result, []error) {
	s := (*Server)(p)
	m := s.model.Load()
	if m == nil {
		return failAll(api.Result{}, len(images), httpapi.ErrNotReady)
	}
	if !m.batch.admit(len(images)) {
		return failAll(api.Result{Model: m.info.Name}, len(images), httpapi.ErrOverloaded)
	}
	req := newRequest(max(1, s.cfg.Decoders/2), len(images))
	results, errs := httpapi.ClassifyEach(images, func(_ int, data []byte) (api.Result, error) {
		return s.classify(ctx, m, req, data, topK)
	})
	for i := range results {
		if errs[i] != nil {
			results[i] = api.Result{Model: m.info.Name}
		}
	}
	return results, errs
}

func failAll(r api.Result, n int, err error) ([]api.Result, []error) {
	results := make([]api.Result, n)
	errs := make([]error, n)
	for i := range n {
		results[i], errs[i] = r, err
	}
	return results, errs
}

// classify prepares one admitted image of req on the request goroutine
// and runs it through the batcher. The decode waits for its request's turn
// (at most half of Config.Decoders per request), then for its bytes in the
// decode budget, then for the CPU (between engine batches) and a decoder.
func (s *Server) classify(ctx context.Context, m *model, req *request, data []byte, topK int) (api.Result, error) {
	j, err := s.prepare(ctx, m, req, data, topK)
	if err != nil {
		m.batch.abandon(req)
		return api.Result{}, err
	}
	return m.batch.wait(ctx, j)
}

// prepare decodes and preprocesses data once the request's turn, the decode
// budget and a decoder allow, and queues it for the batcher. The image is
// queued before the CPU is given back (unless Config.Overlap), so the
// batch the engine takes next includes it.
func (s *Server) prepare(ctx context.Context, m *model, req *request, data []byte, topK int) (*job, error) {
	select {
	case req.decode <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-req.decode }()
	return admit.Prepare(ctx, m.gate, data, func(data []byte) (*job, error) {
		// The CPU first, then a decoder: every image waiting when the
		// engine gives the CPU back decodes before it takes the next
		// batch, not only Config.Decoders of them.
		if !s.cfg.Overlap {
			s.cpu.RLock()
			defer s.cpu.RUnlock()
		}
		select {
		case s.decode <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-s.decode }()
		in, err := m.eng.Prepare(data)
		if err != nil {
			return nil, err
		}
		s.metrics.observeStage(stageDecode, in.Image.DecodeTime)
		s.metrics.observeStage(stagePreprocess, in.Image.PreprocessTime)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return m.batch.enqueue(ctx, req, in, topK)
	})
}
