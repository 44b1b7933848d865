package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/s3io"
)

// Classifier is what the runner needs of the engine.
type Classifier interface {
	Prepare(data []byte) (*infer.Input, error)
	Run(ctx context.Context, inputs []*infer.Input, topK int) ([]infer.Result, error)
	Info() infer.ModelInfo
}

var _ Classifier = (*infer.Classifier)(nil)

// Config describes one batch run.
type Config struct {
	// Input is the prefix whose objects are classified (s3://b/in/, a
	// folder); Manifest, when set, lists the inputs instead.
	Input    string
	Manifest string
	// Output is the prefix that receives <key>.json per input and the shard
	// records.
	Output string
	// Inputs, when set, lists the input URIs instead of a manifest file
	// (the Lambda submitter's direct bursts); outputs are named relative
	// to Input as for a manifest.
	Inputs []string
	// Job names the job this run belongs to: its aggregate records go under
	// <Output>/_jobs/<Job>/, so no job overwrites another's. Every shard of
	// one job gives the same Job (AWS Batch: the parent job id). Default:
	// "run-" and a hash of the inputs and shard count, so a rerun of the
	// same command resumes the same job.
	Job string
	// Shard of Shards: this run takes the inputs whose key hashes to Shard.
	Shard, Shards int
	BatchSize     int
	TopK          int
	CSV           bool // also write results-<shard>.csv
	Force         bool // redo inputs that already have an output
	MaxFailures   Threshold

	// Concurrency of each stage (defaults: 8 downloads, GOMAXPROCS
	// preparers, 8 uploads).
	Fetchers, Preparers, Uploaders int
	// MaxObjectBytes bounds one input (default 64 MiB).
	MaxObjectBytes int64
	// ReadBudget bounds the bytes of inputs read and waiting to be
	// prepared (default 12 MiB: three 12 MP photos, dozens of small ones;
	// the queue of prepared tensors is what hides read latency).
	ReadBudget int64
	// StreamBytes: a JPEG larger than this is decoded as it is read, not
	// read whole into the read budget first, when the Classifier can
	// (PrepareReader): a 12 MP photo's 3-5 MB are never held (default
	// 1 MiB; negative: never).
	StreamBytes int64
	// DecodeBudget bounds the bytes the images being decoded hold, each
	// admitted at its estimate from its header before it decodes; an image
	// that needs more than all of it fails as too_large (default:
	// admit.DefaultSize, a quarter of the memory limit).
	DecodeBudget *admit.Budget
	// Grace is how long in-flight work may continue after ctx is
	// cancelled before it is abandoned (default 90s; Fargate Spot gives 120s).
	Grace time.Duration

	// Progress receives a progress bar when Terminal, else the runner
	// logs progress every ProgressEvery (default 10s; negative disables).
	Progress      io.Writer
	Terminal      bool
	ProgressEvery time.Duration
	Log           *slog.Logger
	// TempDir holds the record spools (default os.TempDir()).
	TempDir string
	// OpenStore opens input and output stores (default s3io.Open).
	OpenStore func(ctx context.Context, url string) (s3io.Store, error)
}

// Failure is one line of failures-<shard>.jsonl.
type Failure struct {
	Input   string `json:"input"` // the input's URI
	Key     string `json:"key"`   // relative to the input prefix
	Code    string `json:"code"`
	Message string `json:"message"`
	// Attempt is how many times this run tried to read the input (1 unless
	// transient storage errors were retried).
	Attempt int `json:"attempt"`
}

// Failure codes beyond the imageprep and infer ones.
const (
	CodeNotFound    = "not_found"         // a manifest names a missing object
	CodeReadFailed  = api.CodeReadFailed  // the input could not be read after retries
	CodeWriteFailed = api.CodeWriteFailed // the output could not be written after retries
)

// Summary is summary-<shard>.json.
type Summary struct {
	Job    string `json:"job"`
	Shard  int    `json:"shard"`
	Shards int    `json:"shards"`
	Model  string `json:"model"`
	Input  string `json:"input"`
	Output string `json:"output"`
	// Inputs is the number of inputs with a record (Succeeded + Failed).
	Inputs    int `json:"inputs"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Skipped inputs already had an output for the same source ETag.
	Skipped int `json:"skipped"`
	// Processed inputs were worked on by this run (Inputs - Skipped).
	Processed int `json:"processed"`
	// RunFailed of the Failed are failures of the run (storage, engine),
	// not of the image: they have no output, and a rerun tries them again.
	// Inputs that can never be read (invalid_input, outside_input,
	// symlink) are not among them: a rerun records them again unread.
	RunFailed int `json:"run_failed"`
	// Abandoned inputs were in flight when the run was interrupted.
	Abandoned    int       `json:"abandoned"`
	ImagesPerSec float64   `json:"images_per_sec"`
	Started      time.Time `json:"started"`
	Ended        time.Time `json:"ended"`
	Seconds      float64   `json:"seconds"`
	Interrupted  bool      `json:"interrupted"`
	MaxFailures  string    `json:"max_failures"`
}

// ErrInterrupted is returned when ctx was cancelled before every input was
// done; running again resumes.
var ErrInterrupted = errors.New("batch: interrupted")

// FailuresError reports more failures than Config.MaxFailures allows.
type FailuresError struct {
	Failed, Total int
	Max           Threshold
}

func (e *FailuresError) Error() string {
	return fmt.Sprintf("batch: %d of %d inputs failed (max %s)", e.Failed, e.Total, e.Max)
}

// UsageError is a configuration the runner refuses.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Check validates cfg and fills in defaults; Run calls it. The error is a
// *UsageError.
func (cfg *Config) Check() error {
	if cfg.Shards <= 0 {
		cfg.Shards = 1
	}
	if cfg.Shard < 0 || cfg.Shard >= cfg.Shards {
		return &UsageError{fmt.Errorf("shard %d out of range for %d shards", cfg.Shard, cfg.Shards)}
	}
	if cfg.Output == "" {
		return &UsageError{errors.New("no output")}
	}
	if cfg.Input == "" && cfg.Manifest == "" && len(cfg.Inputs) == 0 {
		return &UsageError{errors.New("no input: give an input prefix or a manifest")}
	}
	if cfg.Manifest != "" && len(cfg.Inputs) > 0 {
		return &UsageError{errors.New("give a manifest or a list of inputs, not both")}
	}
	if cfg.Job == "" {
		cfg.Job = DefaultJob(*cfg)
	}
	if err := CheckJob(cfg.Job); err != nil {
		return &UsageError{err}
	}
	if cfg.Input != "" && cfg.Manifest == "" && len(cfg.Inputs) == 0 && under(cfg.Output, cfg.Input) {
		return &UsageError{fmt.Errorf("output %s is inside input %s: outputs would become inputs", cfg.Output, cfg.Input)}
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 8
	}
	if cfg.TopK <= 0 {
		cfg.TopK = 5
	}
	if cfg.Fetchers <= 0 {
		cfg.Fetchers = 8
	}
	if cfg.Preparers <= 0 {
		cfg.Preparers = runtime.GOMAXPROCS(0)
	}
	if cfg.Uploaders <= 0 {
		cfg.Uploaders = 8
	}
	if cfg.MaxObjectBytes <= 0 {
		cfg.MaxObjectBytes = 64 << 20
	}
	if cfg.ReadBudget <= 0 {
		cfg.ReadBudget = 12 << 20
	}
	if cfg.StreamBytes == 0 {
		cfg.StreamBytes = 1 << 20
	}
	if cfg.DecodeBudget == nil {
		size, _ := admit.DefaultSize()
		cfg.DecodeBudget = admit.New(size)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 90 * time.Second
	}
	if cfg.ProgressEvery == 0 {
		cfg.ProgressEvery = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.OpenStore == nil {
		cfg.OpenStore = s3io.Open
	}
	return nil
}

// under reports whether URL a is inside (or equal to) URL b, textually.
func under(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(s, "file://")
		if !strings.Contains(s, "://") {
			if abs, err := filepath.Abs(s); err == nil {
				s = filepath.ToSlash(abs)
			}
		}
		return strings.TrimSuffix(s, "/") + "/"
	}
	return strings.HasPrefix(norm(a), norm(b))
}
