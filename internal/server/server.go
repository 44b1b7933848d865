// Package server is mlserve's HTTP mode: POST /predict in front of a
// dynamic batcher and the shared engine, with health and readiness probes,
// Prometheus metrics and an OpenAPI document. It translates HTTP to engine
// calls and back; it holds no inference logic.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/httpapi"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
)

// Engine is what the server needs from the classifier.
type Engine interface {
	Prepare(data []byte) (*infer.Input, error)
	Run(ctx context.Context, inputs []*infer.Input, topK int) ([]infer.Result, error)
	Info() infer.ModelInfo
}

var _ Engine = (*infer.Classifier)(nil)

// warmer is an Engine that can warm itself up; others get one blank input.
type warmer interface {
	Warmup(ctx context.Context) error
}

var _ warmer = (*infer.Classifier)(nil)

// Config tunes the server; zero fields take the defaults in parentheses.
type Config struct {
	MaxBatch  int           // images per engine run (8)
	BatchWait time.Duration // longest wait for images still decoding to join a batch (100ms); negative: never wait
	Queue     int           // images admitted and not yet in a batch before 503 (64)
	// MaxImages bounds the images of one request, well below Queue so one
	// request cannot take the whole queue (16, at most Queue).
	MaxImages    int
	MaxBodyBytes int64 // request body limit (10 MiB, the API Gateway limit)
	// MaxPixels is the engine's pixel limit, only quoted in 413 messages
	// (imageprep.DefaultMaxPixels).
	MaxPixels int
	Timeout   time.Duration // per-request deadline (30s)
	TopK      int           // classes per image without ?top_k= (5)
	// Uploads enables POST /uploads and /predict by key (off).
	Uploads *httpapi.Uploads
	// DecodeBudget bounds the bytes that decodes in progress hold, each
	// admitted at its estimate from the header (imageprep.DecodeCost)
	// before it decodes (admit.New(admit.DefaultSize()): a share of the
	// container's memory limit).
	DecodeBudget *admit.Budget
	// Decoders caps the images decoded at once, for CPU, not memory
	// (GOMAXPROCS); one request decodes at most half of them at once
	// (at least 1), so a large request leaves room for small ones.
	Decoders int
	// Overlap lets images decode while an engine batch runs. Off by
	// default: the engine splits each op evenly over every core, so a
	// decode on one core makes the other cores wait at each op's barrier,
	// and a CPU-bound batch then runs up to 2-3 times slower. Turn it on
	// for an engine that does not use all cores.
	Overlap bool

	ReadHeaderTimeout time.Duration // (10s)
	ReadTimeout       time.Duration // whole request, body included (60s)
	WriteTimeout      time.Duration // (Timeout + 10s)
	IdleTimeout       time.Duration // keep-alive (120s)
	// ShutdownDelay is how long Shutdown keeps serving with /readyz at 503
	// before it stops accepting, so load balancers can notice (0).
	ShutdownDelay time.Duration

	Logger *slog.Logger // (slog.Default())
}

func (c Config) withDefaults() Config {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 8
	}
	def(&c.BatchWait, 100*time.Millisecond)
	if c.Queue <= 0 {
		c.Queue = 64
	}
	if c.MaxImages <= 0 {
		c.MaxImages = 16
	}
	c.MaxImages = min(c.MaxImages, c.Queue)
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 10 << 20
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = imageprep.DefaultMaxPixels
	}
	def(&c.Timeout, 30*time.Second)
	if c.TopK <= 0 {
		c.TopK = 5
	}
	if c.Decoders <= 0 {
		c.Decoders = runtime.GOMAXPROCS(0)
	}
	if c.DecodeBudget == nil {
		size, _ := admit.DefaultSize()
		c.DecodeBudget = admit.New(size)
	}
	def(&c.ReadHeaderTimeout, 10*time.Second)
	def(&c.ReadTimeout, 60*time.Second)
	def(&c.WriteTimeout, c.Timeout+10*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server states, in order.
const (
	stateStarting int32 = iota // model loading or warming up
	stateReady
	stateDraining
)

// Server serves the HTTP API. Create it with New, start listening with
// Serve, attach the model with Load (requests get 503 until then), and
// stop with Shutdown.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	http    *http.Server
	handler http.Handler
	decode  chan struct{} // semaphore of Config.Decoders
	budget  *admit.Budget // Config.DecodeBudget
	// cpu keeps decoding and inference apart (unless Config.Overlap):
	// decodes hold it shared, an engine batch exclusively.
	cpu sync.RWMutex

	state  atomic.Int32
	model  atomic.Pointer[model]
	loadMu sync.Mutex
}

// model is an engine attached to the server, with its batcher and the
// gate its decodes pass.
type model struct {
	eng   Engine
	info  infer.ModelInfo
	batch *batcher
	gate  *admit.Gate
}

// New returns a server with no model: /healthz answers, /readyz and
// /predict answer 503 until Load.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: newMetrics(cfg.MaxBatch),
		decode:  make(chan struct{}, cfg.Decoders),
		budget:  cfg.DecodeBudget,
	}
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mlserve_decode_bytes",
		Help: "Bytes of the decode budget held by decodes in progress (their estimates from the image headers).",
	}, func() float64 { return float64(s.budget.InUse()) }))
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mlserve_decode_budget_bytes",
		Help: "The decode budget (MLSERVE_DECODE_BUDGET).",
	}, func() float64 { return float64(s.budget.Size()) }))
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mlserve_queue_images",
		Help: "Images admitted and not yet in an engine batch (decoding or waiting).",
	}, func() float64 {
		if m := s.model.Load(); m != nil {
			return float64(m.batch.depth())
		}
		return 0
	}))
	s.handler = s.routes()
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the server's routes with access logging and metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until Shutdown; it returns nil then.
func (s *Server) Serve(ln net.Listener) error {
	s.log.Info("listening", "addr", ln.Addr().String())
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Load attaches the engine that load returns, warms it up with one
// inference and marks the server ready. It records the load time.
func (s *Server) Load(ctx context.Context, load func(context.Context) (Engine, error)) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.model.Load() != nil {
		return errors.New("model already loaded")
	}
	start := time.Now()
	eng, err := load(ctx)
	if err != nil {
		return fmt.Errorf("load model: %w", err)
	}
	loadTime := time.Since(start)
	s.metrics.loadTime.Set(loadTime.Seconds())
	info := eng.Info()
	s.log.InfoContext(ctx, "model loaded", "model", info.Name, "sha256", info.SHA256,
		"input_size", info.InputSize, "classes", info.Classes, "load_ms", loadTime.Milliseconds())

	start = time.Now()
	if err := warmup(ctx, eng); err != nil {
		return fmt.Errorf("warm up model: %w", err)
	}
	s.log.InfoContext(ctx, "model warmed up", "warmup_ms", time.Since(start).Milliseconds())

	b := newBatcher(eng.Run, s.cfg.MaxBatch, s.cfg.BatchWait, s.cfg.Queue)
	if !s.cfg.Overlap {
		b.hold = func() func() {
			s.cpu.Lock()
			return s.cpu.Unlock
		}
	}
	b.observe = func(n int, d time.Duration) {
		s.metrics.batchSize.Observe(float64(n))
		for range n {
			s.metrics.observeStage(stageInference, d)
		}
	}
	b.onQueue = func(d time.Duration) { s.metrics.observeStage(stageQueue, d) }
	b.start()
	coster, _ := eng.(admit.Coster)
	s.model.Store(&model{eng: eng, info: info, batch: b, gate: admit.NewGate(s.budget, coster)})
	if s.state.CompareAndSwap(stateStarting, stateReady) {
		s.metrics.ready.Set(1)
		s.log.InfoContext(ctx, "ready")
	}
	return nil
}

func warmup(ctx context.Context, eng Engine) error {
	if w, ok := eng.(warmer); ok {
		return w.Warmup(ctx)
	}
	n := eng.Info().InputSize
	in := &infer.Input{Pixels: make([]float32, 3*n*n)}
	_, err := eng.Run(ctx, []*infer.Input{in}, 1)
	return err
}

// Ready reports whether /readyz answers 200.
func (s *Server) Ready() bool { return s.state.Load() == stateReady }

// Shutdown drains the server: /readyz answers 503 at once, it keeps
// serving for Config.ShutdownDelay, then stops accepting and waits for
// in-flight requests until ctx ends. If ctx ends first, connections are
// closed and the running engine batch is cancelled.
func (s *Server) Shutdown(ctx context.Context) error {
	s.state.Store(stateDraining)
	s.metrics.ready.Set(0)
	s.log.InfoContext(ctx, "draining", "delay", s.cfg.ShutdownDelay.String())
	if d := s.cfg.ShutdownDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	if m := s.model.Load(); m != nil {
		m.batch.stop(err != nil)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.InfoContext(ctx, "stopped")
	return nil
}
