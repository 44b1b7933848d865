// Package config reads every MLSERVE_* environment variable once, into a
// typed Config, with the errors of bad values. Flags take their defaults
// from it and packages receive plain values, never the environment;
// `mlserve --help` lists the variables (Help) and each mode logs the
// effective configuration at start (Config is a slog.LogValuer).
//
// Adding a variable is two lines: a field in Config and its declaration in
// vars (name, default, usage, the field, and a parser or check).
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/mlserve/mlserve/internal/api"
)

// Config holds every setting the environment gives mlserve.
type Config struct {
	Addr           string        // MLSERVE_ADDR
	BatchWait      time.Duration // MLSERVE_BATCH_WAIT
	Bucket         string        // MLSERVE_BUCKET
	CacheDir       string        // MLSERVE_CACHE_DIR ("" : the user cache dir + /mlserve)
	DirectMax      int           // MLSERVE_DIRECT_MAX (0: never classify in the function)
	Endpoint       string        // MLSERVE_ENDPOINT ("": classify locally)
	ExactResize    bool          // MLSERVE_EXACT_RESIZE
	GemmKernel     string        // MLSERVE_GEMM_KERNEL
	ImagesPerChild int           // MLSERVE_IMAGES_PER_CHILD
	InputPrefix    string        // MLSERVE_INPUT_PREFIX
	JobDefinition  string        // MLSERVE_JOB_DEFINITION
	JobNamePrefix  string        // MLSERVE_JOB_NAME_PREFIX
	JobQueue       string        // MLSERVE_JOB_QUEUE
	Labels         string        // MLSERVE_LABELS
	LogFormat      string        // MLSERVE_LOG_FORMAT
	Lanes          int           // MLSERVE_LANES (0: the mode's default)
	LogLevel       string        // MLSERVE_LOG_LEVEL
	MaxBatch       int           // MLSERVE_MAX_BATCH
	MaxBodyBytes   int64         // MLSERVE_MAX_BODY_BYTES
	MaxImages      int           // MLSERVE_MAX_IMAGES
	MaxPixels      int           // MLSERVE_MAX_PIXELS
	Model          string        // MLSERVE_MODEL
	OutputPrefix   string        // MLSERVE_OUTPUT_PREFIX
	Profile        bool          // MLSERVE_PROFILE
	Queue          int           // MLSERVE_QUEUE
	S3PathStyle    *bool         // MLSERVE_S3_PATH_STYLE (nil: on when an endpoint URL is set)
	Shards         int           // MLSERVE_SHARDS (0: not set)
	ShutdownDelay  time.Duration // MLSERVE_SHUTDOWN_DELAY
	ShutdownGrace  time.Duration // MLSERVE_SHUTDOWN_GRACE
	SubmitOnly     bool          // MLSERVE_SUBMIT_ONLY
	Timeout        time.Duration // MLSERVE_TIMEOUT
	Token          string        // MLSERVE_TOKEN
	TopK           int           // MLSERVE_TOP_K

	UploadBucket   string        // MLSERVE_UPLOAD_BUCKET ("": uploads off)
	UploadPrefix   string        // MLSERVE_UPLOAD_PREFIX
	UploadMaxBytes int64         // MLSERVE_UPLOAD_MAX_BYTES
	UploadExpiry   time.Duration // MLSERVE_UPLOAD_EXPIRY

	// LambdaRuntimeAPI is AWS_LAMBDA_RUNTIME_API: set when running on AWS
	// Lambda (or under its emulator).
	LambdaRuntimeAPI string

	err error // what Load returned
}

// Err is the error Load returned with this Config: nil, or an *Error.
func (c *Config) Err() error { return c.err }

// OnLambda reports whether mlserve runs on AWS Lambda.
func (c *Config) OnLambda() bool { return c.LambdaRuntimeAPI != "" }

// vars declares every MLSERVE_* variable. Keep it sorted by name.
var vars = []variable{
	stringVar("MLSERVE_ADDR", ":8080", "serve: listen address", func(c *Config) *string { return &c.Addr }),
	durationVar("MLSERVE_BATCH_WAIT", "100ms", "serve: longest wait for images still decoding to join a dynamic batch (a lone request never waits)", func(c *Config) *time.Duration { return &c.BatchWait }),
	stringVar("MLSERVE_BUCKET", "", "lambda: bucket a scheduled {\"sweep\"} lists when the event names none", func(c *Config) *string { return &c.Bucket }),
	stringVar("MLSERVE_CACHE_DIR", "", "model cache directory (default: the user cache dir + /mlserve)", func(c *Config) *string { return &c.CacheDir }),
	intVar("MLSERVE_DIRECT_MAX", "5", "lambda: windows of at most this many uploads are classified in the function, not in AWS Batch (0: never)", func(c *Config) *int { return &c.DirectMax }, atLeast(0)),
	stringVar("MLSERVE_ENDPOINT", "", "classify: send images to this mlserve endpoint instead of classifying locally (--endpoint)", func(c *Config) *string { return &c.Endpoint }),
	boolVar("MLSERVE_EXACT_RESIZE", "false", "true: decode JPEGs at full size before the resize, as torchvision does; false: at the DCT reduction the resize needs (much faster on large photos)", func(c *Config) *bool { return &c.ExactResize }),
	stringVar("MLSERVE_GEMM_KERNEL", "", "force the GEMM micro-kernel: avx512, avx2, neon or generic (default: the best this CPU runs)", func(c *Config) *string { return &c.GemmKernel }),
	intVar("MLSERVE_IMAGES_PER_CHILD", "6000", "lambda, submit: images per AWS Batch array child (about 10 minutes of ResNet-50 work)", func(c *Config) *int { return &c.ImagesPerChild }, atLeast(1)),
	stringVar("MLSERVE_INPUT_PREFIX", "input/", "lambda: S3 key prefix whose uploads submit batch jobs", func(c *Config) *string { return &c.InputPrefix }),
	stringVar("MLSERVE_JOB_DEFINITION", "", "lambda, submit: AWS Batch job definition for submitted jobs", func(c *Config) *string { return &c.JobDefinition }),
	stringVar("MLSERVE_JOB_NAME_PREFIX", "mlserve", "lambda, submit: prefix of submitted AWS Batch job names", func(c *Config) *string { return &c.JobNamePrefix }),
	stringVar("MLSERVE_JOB_QUEUE", "", "lambda, submit: AWS Batch job queue for submitted jobs", func(c *Config) *string { return &c.JobQueue }),
	stringVar("MLSERVE_LABELS", "", "class names file, one per line (default: ImageNet for the default model)", func(c *Config) *string { return &c.Labels }),
	intVar("MLSERVE_LANES", "0", "engine lanes: up to this many sub-batches of a batch run at once on single-threaded executors that share the weights (0: the mode's default, GOMAXPROCS for batch, 1 elsewhere; 1: every run uses every core)", func(c *Config) *int { return &c.Lanes }, atLeast(0)),
	oneOfVar("MLSERVE_LOG_FORMAT", "text", "log format: text or json", func(c *Config) *string { return &c.LogFormat }, "text", "json"),
	oneOfVar("MLSERVE_LOG_LEVEL", "info", "log level: debug, info, warn, error", func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error"),
	intVar("MLSERVE_MAX_BATCH", "8", "serve: largest dynamic batch", func(c *Config) *int { return &c.MaxBatch }, atLeast(1)),
	int64Var("MLSERVE_MAX_BODY_BYTES", "10485760", "serve: largest request body in bytes", func(c *Config) *int64 { return &c.MaxBodyBytes }),
	intVar("MLSERVE_MAX_IMAGES", "16", "serve: most images in one request (multipart files or a JSON list), at most MLSERVE_QUEUE", func(c *Config) *int { return &c.MaxImages }, atLeast(1)),
	intVar("MLSERVE_MAX_PIXELS", "50000000", "largest image in pixels, checked before decoding", func(c *Config) *int { return &c.MaxPixels }, atLeast(1)),
	stringVar("MLSERVE_MODEL", "", "model: a path, file://, https:// or s3:// URL (default: the cached resnet50-v1-12)", func(c *Config) *string { return &c.Model }),
	stringVar("MLSERVE_OUTPUT_PREFIX", "output/", "lambda, submit: S3 key prefix the submitted jobs write to", func(c *Config) *string { return &c.OutputPrefix }),
	boolVar("MLSERVE_PROFILE", "", "1 prints time and GFLOP/s per engine op after each run", func(c *Config) *bool { return &c.Profile }),
	intVar("MLSERVE_QUEUE", "64", "serve: images that may wait for the engine before 503", func(c *Config) *int { return &c.Queue }, atLeast(1)),
	optBoolVar("MLSERVE_S3_PATH_STYLE", "", "S3 path-style addressing: true or false (default: true when AWS_ENDPOINT_URL_S3 is set)", func(c *Config) **bool { return &c.S3PathStyle }),
	intVar("MLSERVE_SHARDS", "", "batch: number of shards of an AWS Batch array job", func(c *Config) *int { return &c.Shards }, atLeast(1)),
	durationVar("MLSERVE_SHUTDOWN_DELAY", "3s", "serve: time /readyz answers 503 before the server stops accepting on SIGTERM, so load balancers stop sending (0s: stop at once)", func(c *Config) *time.Duration { return &c.ShutdownDelay }),
	durationVar("MLSERVE_SHUTDOWN_GRACE", "25s", "serve: time in-flight requests get to finish on SIGTERM", func(c *Config) *time.Duration { return &c.ShutdownGrace }),
	boolVar("MLSERVE_SUBMIT_ONLY", "false", "lambda: true for a function that only submits Batch jobs for S3 uploads: no model is loaded at init (a direct burst loads it)", func(c *Config) *bool { return &c.SubmitOnly }),
	durationVar("MLSERVE_TIMEOUT", "30s", "serve: per-request deadline", func(c *Config) *time.Duration { return &c.Timeout }),
	stringVar("MLSERVE_TOKEN", "", "classify --endpoint: bearer token for a JWT authorizer (--auth bearer)", func(c *Config) *string { return &c.Token }),
	intVar("MLSERVE_TOP_K", "5", "number of classes reported per image", func(c *Config) *int { return &c.TopK }, api.CheckTopK),
	stringVar("MLSERVE_UPLOAD_BUCKET", "", "serve, lambda: S3 bucket of POST /uploads and /predict by key (default: uploads off)", func(c *Config) *string { return &c.UploadBucket }),
	durationVar("MLSERVE_UPLOAD_EXPIRY", "5m", "serve, lambda: lifetime of a presigned upload URL", func(c *Config) *time.Duration { return &c.UploadExpiry }),
	int64Var("MLSERVE_UPLOAD_MAX_BYTES", "52428800", "serve, lambda: largest uploaded image /predict reads, checked from its size before reading", func(c *Config) *int64 { return &c.UploadMaxBytes }),
	stringVar("MLSERVE_UPLOAD_PREFIX", "uploads/", "serve, lambda: key prefix of uploads; /predict reads no other key", func(c *Config) *string { return &c.UploadPrefix }),
}

// Error is the variables whose values are bad: a usage error.
type Error struct {
	Errs []error // one per variable, each naming it
}

func (e *Error) Error() string   { return errors.Join(e.Errs...).Error() }
func (e *Error) Unwrap() []error { return e.Errs }

// Load reads every variable through lookup (os.LookupEnv). A bad value
// leaves the default in its field and is reported in the *Error returned
// beside the Config, so a command can still be built (and --help shown).
func Load(lookup func(string) (string, bool)) (*Config, error) {
	c := &Config{}
	var errs []error
	for _, v := range vars {
		if err := v.set(c, v.def); err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", v.name, err)) // a bad declaration
		}
		s, ok := lookup(v.name)
		if s = strings.TrimSpace(s); !ok || s == "" {
			continue
		}
		if err := v.set(c, s); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", v.name, s, err))
		}
	}
	c.LambdaRuntimeAPI, _ = lookup("AWS_LAMBDA_RUNTIME_API")
	if len(errs) > 0 {
		c.err = &Error{Errs: errs}
	}
	return c, c.err
}

// Declared reports whether name is a declared variable.
func Declared(name string) bool {
	for _, v := range vars {
		if v.name == name {
			return true
		}
	}
	return false
}

// Default is the configuration of an empty environment.
func Default() *Config {
	c, _ := Load(func(string) (string, bool) { return "", false })
	return c
}

// Help lists the variables as an aligned table for --help.
func Help() string {
	vs := append([]variable(nil), vars...)
	sort.Slice(vs, func(i, j int) bool { return vs[i].name < vs[j].name })
	var b strings.Builder
	for _, v := range vs {
		def := ""
		if v.def != "" {
			def = fmt.Sprintf(" (default %q)", v.def)
		}
		fmt.Fprintf(&b, "  %-24s %s%s\n", v.name, v.usage, def)
	}
	return b.String()
}

// LogValue logs the variables that are set to other than their default,
// by name: the effective configuration a mode logs at start.
func (c *Config) LogValue() slog.Value {
	def := Default()
	var attrs []slog.Attr
	for _, v := range vars {
		if s, d := v.get(c), v.get(def); s != d {
			if strings.HasSuffix(v.name, "_TOKEN") { // a secret: logged as set, never its value
				s = "[set]"
			}
			attrs = append(attrs, slog.String(v.name, s))
		}
	}
	return slog.GroupValue(attrs...)
}

var _ slog.LogValuer = (*Config)(nil)
