// Package batch is mlserve's batch runner: it classifies every image under
// an input prefix (or listed in a manifest), one deterministic share of them
// per shard, through a bounded pipeline of downloads, preprocessing workers,
// batched inference and uploads, and writes one result file per input plus
// per-shard records. Per-input outputs are the source of truth, so a run
// that was killed resumes where it stopped when run again.
package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
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

// ShardOf returns the shard of shards that takes the input with key rel.
func ShardOf(rel string, shards int) int {
	h := fnv.New64a()
	h.Write([]byte(rel))
	return int(h.Sum64() % uint64(shards))
}

// item is one input of this shard.
type item struct {
	rel    string // relative to the input prefix; the output is rel + ".json"
	uri    string
	store  s3io.Store
	key    string      // in store
	obj    s3io.Object // from the listing
	listed bool        // obj is known (not a manifest entry)
}

// work carries an item through the pipeline.
type work struct {
	item
	data    []byte
	input   *infer.Input
	result  *api.Result // success, or a failure of the image itself: written as the output
	fail    *Failure    // a failure of the run (storage, engine): recorded only, retried next run
	skipped bool
	attempt int
}

type runner struct {
	cfg     Config
	c       Classifier
	model   string
	out     s3io.Store
	log     *slog.Logger
	stores  map[string]s3io.Store
	storeMu sync.Mutex

	total atomic.Int64 // inputs enumerated, -1 while listing
	done  atomic.Int64 // records
	work  atomic.Int64 // records that were not skipped
}

// Run classifies the inputs of cfg.Shard and writes their outputs and the
// shard's records. It returns ErrInterrupted when ctx was cancelled, a
// *FailuresError when failures exceed cfg.MaxFailures, and the Summary in
// every case where the records were written.
func Run(ctx context.Context, c Classifier, cfg Config) (Summary, error) {
	if err := cfg.Check(); err != nil {
		return Summary{}, err
	}
	r := &runner{cfg: cfg, c: c, model: c.Info().Name, log: cfg.Log, stores: map[string]s3io.Store{}}
	var err error
	if r.out, err = cfg.OpenStore(ctx, cfg.Output); err != nil {
		return Summary{}, fmt.Errorf("output: %w", err)
	}
	r.total.Store(-1)
	return r.run(ctx)
}

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

func (r *runner) run(ctx context.Context) (Summary, error) {
	cfg := r.cfg
	sum := Summary{Job: cfg.Job, Shard: cfg.Shard, Shards: cfg.Shards, Model: r.model, Input: cfg.Input, Output: cfg.Output,
		Started: time.Now().UTC(), MaxFailures: cfg.MaxFailures.String()}
	if cfg.Manifest != "" {
		sum.Input = cfg.Manifest
	}

	// In-flight work outlives ctx by up to Grace, so an interrupted run
	// finishes what it started and records it.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-time.After(cfg.Grace):
				r.log.Warn("batch: grace period over, abandoning in-flight inputs", "grace", cfg.Grace)
				cancelWork()
			case <-finished:
			}
		case <-finished:
		}
	}()

	recs, err := newRecords(cfg.TempDir, cfg.CSV, cfg.TopK)
	if err != nil {
		return Summary{}, err
	}
	defer recs.close()

	items := make(chan item, 2*cfg.Fetchers)
	fetched := make(chan *work, cfg.Preparers)
	prepared := make(chan *work, 2*cfg.BatchSize)
	finishedWork := make(chan *work, 2*cfg.Uploaders+cfg.BatchSize)
	records := make(chan *work, 2*cfg.Uploaders)

	var enumErr error
	go func() {
		defer close(items)
		n, err := r.enumerate(ctx, items)
		enumErr = err
		r.total.Store(int64(n))
	}()

	var producers sync.WaitGroup // everyone who sends on finishedWork
	var fetchers, preparers sync.WaitGroup
	for range cfg.Fetchers {
		fetchers.Add(1)
		producers.Add(1)
		go func() {
			defer fetchers.Done()
			defer producers.Done()
			for it := range items {
				if ctx.Err() != nil {
					continue // interrupted: take no new inputs
				}
				w := r.fetch(workCtx, it)
				if w.data != nil {
					fetched <- w
				} else {
					finishedWork <- w
				}
			}
		}()
	}
	go func() { fetchers.Wait(); close(fetched) }()
	for range cfg.Preparers {
		preparers.Add(1)
		producers.Add(1)
		go func() {
			defer preparers.Done()
			defer producers.Done()
			for w := range fetched {
				if r.prepare(w) {
					prepared <- w
				} else {
					finishedWork <- w
				}
			}
		}()
	}
	go func() { preparers.Wait(); close(prepared) }()
	producers.Add(1)
	go func() {
		defer producers.Done()
		r.infer(workCtx, prepared, finishedWork)
	}()
	go func() { producers.Wait(); close(finishedWork) }()
	var uploaders sync.WaitGroup
	for range cfg.Uploaders {
		uploaders.Add(1)
		go func() {
			defer uploaders.Done()
			for w := range finishedWork {
				r.upload(workCtx, w)
				records <- w
			}
		}()
	}
	go func() { uploaders.Wait(); close(records) }()

	stopProgress := r.startProgress(sum.Started)
	interrupted := func() bool { return ctx.Err() != nil }
	var recErr error
	for w := range records {
		if w.fail != nil && w.fail.Code == infer.CodeCanceled && interrupted() {
			sum.Abandoned++
			continue
		}
		if recErr != nil {
			continue // drain the pipeline
		}
		if recErr = recs.add(w); recErr != nil {
			cancelWork()
			continue
		}
		if w.fail != nil {
			sum.RunFailed++
		}
		if w.skipped {
			sum.Skipped++
		} else {
			r.work.Add(1)
		}
		r.done.Add(1)
	}
	stopProgress()
	if recErr != nil {
		return Summary{}, fmt.Errorf("records: %w", recErr)
	}

	sum.Succeeded, sum.Failed = recs.results.len(), recs.failures.len()
	sum.Inputs = sum.Succeeded + sum.Failed
	sum.Processed = sum.Inputs - sum.Skipped
	sum.Ended = time.Now().UTC()
	sum.Seconds = sum.Ended.Sub(sum.Started).Seconds()
	if sum.Seconds > 0 {
		sum.ImagesPerSec = float64(sum.Processed) / sum.Seconds
	}
	sum.Interrupted = interrupted()

	// Write the records even when interrupted, with a context of their own.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := recs.write(fctx, r.out, JobPrefix(cfg.Job), cfg.Shard, sum); err != nil {
		return sum, err
	}
	if err := writeJobSummary(fctx, r.out, cfg, r.log); err != nil {
		return sum, err
	}
	r.log.InfoContext(ctx, "batch: done", "shard", sum.Shard, "shards", sum.Shards, "inputs", sum.Inputs,
		"succeeded", sum.Succeeded, "failed", sum.Failed, "skipped", sum.Skipped, "abandoned", sum.Abandoned,
		"images_per_sec", round(sum.ImagesPerSec), "seconds", round(sum.Seconds), "interrupted", sum.Interrupted)
	switch {
	case sum.Interrupted:
		return sum, ErrInterrupted
	case enumErr != nil:
		return sum, fmt.Errorf("list inputs: %w", enumErr)
	case cfg.MaxFailures.Exceeded(sum.Failed, sum.Inputs):
		return sum, &FailuresError{Failed: sum.Failed, Total: sum.Inputs, Max: cfg.MaxFailures}
	}
	return sum, nil
}

func round(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// fetch checks whether the input is already done, then reads it. It leaves
// w.data set when the input goes on to be prepared.
func (r *runner) fetch(ctx context.Context, it item) *work {
	w := &work{item: it}
	if !it.listed {
		obj, err := retry(ctx, func() (s3io.Object, error) { return it.store.Stat(ctx, it.key) }, &w.attempt)
		if err != nil {
			r.failRun(w, err, CodeReadFailed)
			return w
		}
		w.obj = obj
	}
	if !r.cfg.Force && r.alreadyDone(ctx, w) {
		return w
	}
	if !hasImageExt(it.rel) {
		r.failImage(w, imageprep.CodeNotImage, "not an image file name (extension)")
		return w
	}
	if w.obj.Size > r.cfg.MaxObjectBytes {
		r.failImage(w, imageprep.CodeTooLarge, fmt.Sprintf("%d bytes, more than %d", w.obj.Size, r.cfg.MaxObjectBytes))
		return w
	}
	w.attempt = 0
	type got struct {
		data []byte
		obj  s3io.Object
	}
	g, err := retry(ctx, func() (got, error) {
		rc, obj, err := it.store.Open(ctx, it.key)
		if err != nil {
			return got{}, err
		}
		defer rc.Close()
		data, err := io.ReadAll(io.LimitReader(rc, r.cfg.MaxObjectBytes+1))
		return got{data, obj}, err
	}, &w.attempt)
	if err != nil {
		r.failRun(w, err, CodeReadFailed)
		return w
	}
	if g.obj.ETag != "" {
		w.obj.ETag, w.obj.Size = g.obj.ETag, g.obj.Size
	}
	switch {
	case len(g.data) == 0:
		r.failImage(w, imageprep.CodeEmpty, "zero bytes")
	case int64(len(g.data)) > r.cfg.MaxObjectBytes:
		r.failImage(w, imageprep.CodeTooLarge, fmt.Sprintf("more than %d bytes", r.cfg.MaxObjectBytes))
	case !isImage(g.data):
		r.failImage(w, imageprep.CodeNotImage, "no image signature (magic bytes)")
	default:
		w.data = g.data
	}
	return w
}

// alreadyDone reads the input's output and, when it was made from the same
// source ETag, takes it as this input's record.
func (r *runner) alreadyDone(ctx context.Context, w *work) bool {
	if w.obj.ETag == "" {
		return false
	}
	rc, _, err := r.out.Open(ctx, outputKey(w.rel))
	if err != nil {
		if !errors.Is(err, s3io.ErrNotExist) {
			r.log.Warn("batch: cannot read existing output, redoing it", "input", w.uri, "err", err)
		}
		return false
	}
	defer rc.Close()
	var res api.Result
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&res); err != nil {
		return false
	}
	// The ETag, not the URI, decides: the same content under the same key
	// is done even if the input prefix was spelled differently.
	if res.Source == nil || res.Source.ETag != w.obj.ETag {
		return false
	}
	res.Source.URI = w.uri
	w.result, w.skipped, w.attempt = &res, true, 1
	return true
}

func outputKey(rel string) string { return rel + ".json" }

// Retries of a read, on top of the SDK's own per-request retries.
const readAttempts = 3

// retryBackoff is the first pause between attempts; each next one is 4x.
var retryBackoff = 250 * time.Millisecond

// retry calls f up to readAttempts times with backoff while it fails with an error
// other than ErrNotExist (the SDK retries each request on its own too).
func retry[T any](ctx context.Context, f func() (T, error), attempts *int) (T, error) {
	var v T
	var err error
	for i := range readAttempts {
		*attempts = i + 1
		if v, err = f(); err == nil || errors.Is(err, s3io.ErrNotExist) || ctx.Err() != nil || i == readAttempts-1 {
			return v, err
		}
		select {
		case <-time.After(retryBackoff << (2 * i)):
		case <-ctx.Done():
			return v, err
		}
	}
	return v, err
}

// failImage records a failure of the image itself: deterministic for this
// content, so it is written as the input's output and not retried.
func (r *runner) failImage(w *work, code, msg string) {
	w.data, w.input = nil, nil
	if w.attempt == 0 {
		w.attempt = 1
	}
	res := api.Failed(r.model, code, msg)
	w.result = &res
}

// failRun records a failure of this run (storage, engine): the input gets no
// output, so the next run tries it again.
func (r *runner) failRun(w *work, err error, code string) {
	w.data, w.input, w.result = nil, nil, nil
	switch {
	case errors.Is(err, s3io.ErrNotExist):
		code = CodeNotFound
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		code = infer.CodeCanceled
	}
	if w.attempt == 0 {
		w.attempt = 1
	}
	w.fail = &Failure{Input: w.uri, Key: w.rel, Code: code, Message: err.Error(), Attempt: w.attempt}
}

// prepare decodes and preprocesses w.data; false when w failed.
func (r *runner) prepare(w *work) bool {
	in, err := r.c.Prepare(w.data)
	w.data = nil
	if err != nil {
		if code := imageprep.Code(err); code != "" {
			r.failImage(w, code, err.Error())
		} else {
			r.failRun(w, err, infer.ErrorCode(err))
		}
		return false
	}
	w.input = in
	return true
}

// infer runs full batches as they fill, and what is left at the end.
func (r *runner) infer(ctx context.Context, in <-chan *work, out chan<- *work) {
	batch := make([]*work, 0, r.cfg.BatchSize)
	inputs := make([]*infer.Input, 0, r.cfg.BatchSize)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		inputs = inputs[:0]
		for _, w := range batch {
			inputs = append(inputs, w.input)
		}
		res, err := r.c.Run(ctx, inputs, r.cfg.TopK)
		if err == nil && len(res) != len(batch) {
			err = fmt.Errorf("engine returned %d results for %d inputs", len(res), len(batch))
		}
		for i, w := range batch {
			w.input = nil
			switch {
			case err != nil:
				r.failRun(w, err, infer.ErrorCode(err))
			case res[i].Error != nil && isImageCode(res[i].Error.Code):
				r.failImage(w, res[i].Error.Code, res[i].Error.Message)
			case res[i].Error != nil:
				r.failRun(w, errors.New(res[i].Error.Message), res[i].Error.Code)
			default:
				r := api.FromEngine(res[i])
				w.result = &r
			}
			out <- w
		}
		batch = batch[:0]
	}
	for w := range in {
		batch = append(batch, w)
		if len(batch) == r.cfg.BatchSize {
			flush()
		}
	}
	flush()
}

func isImageCode(code string) bool {
	switch code {
	case imageprep.CodeEmpty, imageprep.CodeNotImage, imageprep.CodeUnsupported,
		imageprep.CodeTruncated, imageprep.CodeCorrupt, imageprep.CodeTooLarge:
		return true
	}
	return false
}

// upload writes the output of a newly finished input.
func (r *runner) upload(ctx context.Context, w *work) {
	if w.result == nil || w.skipped {
		return
	}
	w.result.Source = &api.Source{URI: w.uri, Size: w.obj.Size, ETag: w.obj.ETag}
	data, err := json.Marshal(w.result)
	if err != nil {
		r.failRun(w, err, infer.CodeInternal)
		return
	}
	data = append(data, '\n')
	if err := r.out.Put(ctx, outputKey(w.rel), strings.NewReader(string(data)), int64(len(data))); err != nil {
		r.failRun(w, err, CodeWriteFailed)
	}
}
