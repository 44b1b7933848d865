package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/server"
)

// serveOptions are the flags of `mlserve serve`.
type serveOptions struct {
	IO
	modelOptions
	Addr          string
	TopK          int
	MaxBatch      int
	BatchWait     time.Duration
	Queue         int
	MaxImages     int
	MaxBodyBytes  int64
	Timeout       time.Duration
	ShutdownGrace time.Duration
	ShutdownDelay time.Duration
	LogFormat     string
	LogLevel      string

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// listening, when set, is told the address once the server listens
	// (tests pass --addr 127.0.0.1:0).
	listening func(net.Addr)
}

func newServeCmd(stdio IO) *cobra.Command {
	return newServeCmdWith(stdio, runServe)
}

// newServeCmdWith builds the command around run, so tests can check flag
// parsing apart from serving.
func newServeCmdWith(stdio IO, run func(context.Context, serveOptions) error) *cobra.Command {
	opts := serveOptions{IO: stdio}
	env := stdio.env()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve image classification over HTTP",
		Long: `Serve the model over HTTP: POST /predict (and /v1/predict) classifies the
image in the body and answers the same JSON result as classify --json.

The body is the image itself (any image/*, application/octet-stream or
application/jpeg; the format comes from the bytes), a multipart/form-data
upload with one or more files, or JSON {"image": "<base64>"} or
{"images": [...]}. ?top_k= picks the number of classes (1 to 1000).
Concurrent requests are grouped into engine batches of up to --max-batch
images: a batch starts when the engine is free, waiting at most --batch-wait
for images that are still being decoded (a lone request never waits). Beyond
--queue admitted images the server answers 503 with Retry-After.

The server listens at once: GET /healthz answers 200 while the model loads,
GET /readyz only after the model is loaded and warmed up. GET /v1/models
describes the model, GET /metrics serves Prometheus metrics and
GET /openapi.json the API. On SIGTERM or SIGINT /readyz turns 503, the
server stops accepting after --shutdown-delay, in-flight requests get
--shutdown-grace to finish, and mlserve exits 0.`,
		Example: `  # serve the default model on :8080
  $ mlserve serve

  # classify a photo
  $ curl -s --data-binary @photo.jpg -H 'Content-Type: image/jpeg' localhost:8080/predict

  # several files at once, three classes each
  $ curl -s -F a=@cat.jpg -F b=@dog.png 'localhost:8080/predict?top_k=3'

  # a custom model on another port, JSON logs, bigger batches
  $ mlserve serve --model my.onnx --addr :9000 --log-format json --max-batch 16`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			return run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	addServeFlags(fs, &opts, env)
	return cmd
}

func addServeFlags(fs *pflag.FlagSet, opts *serveOptions, env *config.Config) {
	opts.modelOptions.addFlags(fs, env)
	fs.StringVar(&opts.Addr, "addr", env.Addr, "listen address, host:port (env MLSERVE_ADDR)")
	fs.IntVarP(&opts.TopK, "top-k", "k", env.TopK, "classes per image when the request has no ?top_k= (env MLSERVE_TOP_K)")
	fs.IntVar(&opts.MaxBatch, "max-batch", env.MaxBatch, "largest dynamic batch of images per engine run (env MLSERVE_MAX_BATCH)")
	fs.DurationVar(&opts.BatchWait, "batch-wait", env.BatchWait, "longest wait for images still decoding to join a batch (env MLSERVE_BATCH_WAIT)")
	fs.IntVar(&opts.Queue, "queue", env.Queue, "images admitted and not yet in a batch before 503 (env MLSERVE_QUEUE)")
	fs.IntVar(&opts.MaxImages, "max-images", env.MaxImages, "most images in one request, multipart files or a JSON list; at most --queue (env MLSERVE_MAX_IMAGES)")
	fs.Int64Var(&opts.MaxBodyBytes, "max-body-bytes", env.MaxBodyBytes, "largest request body in bytes (env MLSERVE_MAX_BODY_BYTES)")
	fs.DurationVar(&opts.Timeout, "timeout", env.Timeout, "per-request deadline; past it 504 (env MLSERVE_TIMEOUT)")
	fs.DurationVar(&opts.ShutdownGrace, "shutdown-grace", env.ShutdownGrace, "time in-flight requests get to finish on SIGTERM (env MLSERVE_SHUTDOWN_GRACE)")
	fs.DurationVar(&opts.ShutdownDelay, "shutdown-delay", env.ShutdownDelay, "time /readyz answers 503 before the server stops accepting on SIGTERM (env MLSERVE_SHUTDOWN_DELAY)")
	fs.StringVar(&opts.LogFormat, "log-format", env.LogFormat, "log format: text or json (env MLSERVE_LOG_FORMAT)")
	fs.StringVar(&opts.LogLevel, "log-level", env.LogLevel, "log level: debug, info, warn or error (env MLSERVE_LOG_LEVEL)")
	fs.DurationVar(&opts.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "longest time to read request headers")
	fs.DurationVar(&opts.ReadTimeout, "read-timeout", 60*time.Second, "longest time to read a whole request, body included")
	fs.DurationVar(&opts.WriteTimeout, "write-timeout", 0, "longest time from the end of the headers to the end of the response (default: --timeout + 10s)")
	fs.DurationVar(&opts.IdleTimeout, "idle-timeout", 120*time.Second, "longest keep-alive idle time")
}

func (o serveOptions) validate() error {
	switch {
	case o.Addr == "":
		return usageErrorf("--addr: empty")
	case api.CheckTopK(o.TopK) != nil:
		return usageErrorf("--top-k: %w", api.CheckTopK(o.TopK))
	case o.MaxBatch < 1:
		return usageErrorf("--max-batch %d: want at least 1", o.MaxBatch)
	case o.BatchWait < 0:
		return usageErrorf("--batch-wait %s: want 0 or more", o.BatchWait)
	case o.Queue < o.MaxBatch:
		return usageErrorf("--queue %d: want at least --max-batch (%d)", o.Queue, o.MaxBatch)
	case o.MaxImages < 1:
		return usageErrorf("--max-images %d: want at least 1", o.MaxImages)
	case o.MaxBodyBytes < 1:
		return usageErrorf("--max-body-bytes %d: want at least 1", o.MaxBodyBytes)
	case o.MaxPixels < 0:
		return usageErrorf("--max-pixels %d: want 0 (the default) or more", o.MaxPixels)
	case o.Timeout <= 0:
		return usageErrorf("--timeout %s: want more than 0", o.Timeout)
	case o.ShutdownGrace < 0 || o.ShutdownDelay < 0:
		return usageErrorf("--shutdown-grace and --shutdown-delay: want 0 or more")
	case o.ReadHeaderTimeout <= 0 || o.ReadTimeout <= 0 || o.IdleTimeout <= 0 || o.WriteTimeout < 0:
		return usageErrorf("server timeouts: want more than 0")
	}
	if _, err := serveLogger(io.Discard, o.LogFormat, o.LogLevel); err != nil {
		return &UsageError{Err: err}
	}
	return nil
}

// serveLogger builds the structured logger of --log-format and --log-level.
func serveLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	hopts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// runServe listens, loads the model in the background (the server answers
// /healthz meanwhile, /readyz once it is warm), and serves until ctx ends
// (SIGTERM or SIGINT), then drains.
func runServe(ctx context.Context, opts serveOptions) error {
	log, err := serveLogger(opts.Err, opts.LogFormat, opts.LogLevel)
	if err != nil {
		return &UsageError{Err: err}
	}
	cfg := server.Config{
		MaxBatch:          opts.MaxBatch,
		BatchWait:         opts.BatchWait,
		Queue:             opts.Queue,
		MaxImages:         opts.MaxImages,
		MaxBodyBytes:      opts.MaxBodyBytes,
		MaxPixels:         opts.MaxPixels,
		Timeout:           opts.Timeout,
		TopK:              opts.TopK,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		ShutdownDelay:     opts.ShutdownDelay,
		Logger:            log,
	}
	if cfg.BatchWait == 0 {
		cfg.BatchWait = -1 // 0 on the command line means "never wait"
	}
	if cfg.Uploads, err = uploadsFrom(ctx, opts.env()); err != nil {
		return err
	}
	log.InfoContext(ctx, "serve config", "version", Version, "addr", opts.Addr,
		"model", opts.modelName(),
		"top_k", opts.TopK, "max_batch", opts.MaxBatch, "batch_wait", opts.BatchWait.String(),
		"queue", opts.Queue, "max_images", min(opts.MaxImages, opts.Queue), "max_body_bytes", opts.MaxBodyBytes, "max_pixels", opts.MaxPixels,
		"timeout", opts.Timeout.String(), "shutdown_grace", opts.ShutdownGrace.String(),
		"shutdown_delay", opts.ShutdownDelay.String(), "env", opts.env())

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := server.New(cfg)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if opts.listening != nil {
		opts.listening(ln.Addr())
	}
	loaded := make(chan error, 1)
	go func() {
		loaded <- srv.Load(ctx, func(ctx context.Context) (server.Engine, error) {
			c, err := loadClassifier(ctx, opts.modelOptions.throughput(), opts.IO, false)
			if err != nil {
				return nil, err
			}
			return c, nil
		})
	}()

	shutdown := func(grace time.Duration) error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
		defer cancel()
		return srv.Shutdown(sctx)
	}
	for {
		select {
		case err := <-loaded:
			if err != nil && ctx.Err() == nil {
				log.ErrorContext(ctx, "model failed to load", "err", err)
				shutdown(time.Second) //nolint:errcheck // the load error is the one to report
				return err
			}
			loaded = nil
		case err := <-served:
			return err
		case <-ctx.Done():
			log.InfoContext(ctx, "signal received, draining", "grace", opts.ShutdownGrace.String())
			if err := shutdown(opts.ShutdownDelay + opts.ShutdownGrace); err != nil {
				return err
			}
			return <-served
		}
	}
}
