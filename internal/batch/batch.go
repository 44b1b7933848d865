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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/s3io"
)

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
	// refuse is the failure of an input that can never be read (a bad
	// manifest entry, a symbolic link): recorded without reading.
	refuse *Failure
}

// work carries an item through the pipeline.
type work struct {
	item
	data   []byte
	input  *infer.Input
	result *api.Result // success, or a failure of the image itself: written as the output
	fail   *Failure    // a failure of the run (storage, engine): recorded only, retried next run
	// permanent: fail is the input's own (it can never be read), not the
	// run's; a rerun records it again without trying.
	permanent bool
	skipped   bool
	attempt   int
	held      int64 // bytes of the read budget data holds
	stream    bool  // prepare reads the input as it decodes it (streamPreparer)
	// body, opened by fetch for a streamed input so that the store's
	// latency to the first byte passes while earlier inputs decode;
	// prepareStream reads it (or opens its own) and closes it.
	body    io.ReadCloser
	bodyObj s3io.Object
}

type runner struct {
	cfg     Config
	c       Classifier
	model   string
	out     s3io.Store
	log     *slog.Logger
	stores  map[string]s3io.Store
	storeMu sync.Mutex
	bufs    buffers        // input bytes, recycled once prepared
	budget  *budget        // bytes read and not yet prepared
	gate    *admit.Gate    // decodes against Config.DecodeBudget
	sp      streamPreparer // nil: every input is read whole

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
	coster, _ := c.(admit.Coster)
	r := &runner{cfg: cfg, c: c, model: c.Info().Name, log: cfg.Log, stores: map[string]s3io.Store{}, budget: newBudget(cfg.ReadBudget),
		gate: admit.NewGate(cfg.DecodeBudget, coster)}
	if sp, ok := c.(streamPreparer); ok && cfg.StreamBytes >= 0 {
		r.sp = sp
	}
	var err error
	if r.out, err = cfg.OpenStore(ctx, cfg.Output); err != nil {
		return Summary{}, fmt.Errorf("output: %w", err)
	}
	r.total.Store(-1)
	return r.run(ctx)
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
	defer r.watchGrace(ctx, cancelWork)()

	recs, err := newRecords(cfg.TempDir, cfg.CSV, cfg.TopK)
	if err != nil {
		return Summary{}, err
	}
	defer recs.close()

	finished, enumErr := r.pipeline(ctx, workCtx)
	stopProgress := r.startProgress(sum.Started)
	recErr := r.collect(ctx, finished, recs, &sum, cancelWork)
	stopProgress()
	if recErr != nil {
		return Summary{}, fmt.Errorf("records: %w", recErr)
	}
	return r.finish(ctx, recs, sum, *enumErr)
}

// watchGrace cancels the in-flight work Grace after ctx is done, unless
// the run finished first; the returned func says it finished.
func (r *runner) watchGrace(ctx context.Context, cancelWork context.CancelFunc) (finished func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-time.After(r.cfg.Grace):
				r.log.Warn("batch: grace period over, abandoning in-flight inputs", "grace", r.cfg.Grace)
				cancelWork()
			case <-done:
			}
		case <-done:
		}
	}()
	return func() { close(done) }
}

// pipeline starts the stages: listing, fetchers, preparers, the engine and
// uploaders. It returns the channel of finished inputs, closed when every
// stage is done, and where the listing's error is once it is closed.
func (r *runner) pipeline(ctx, workCtx context.Context) (<-chan *work, *error) {
	cfg := r.cfg
	items := make(chan item, 2*cfg.Fetchers)
	fetched := make(chan *work, cfg.Preparers)
	prepared := make(chan *work, 2*cfg.BatchSize)
	finishedWork := make(chan *work, 2*cfg.Uploaders+cfg.BatchSize)
	records := make(chan *work, 2*cfg.Uploaders)

	enumErr := new(error)
	go func() {
		defer close(items)
		n, err := r.enumerate(ctx, items)
		*enumErr = err
		r.total.Store(int64(n))
	}()

	var producers sync.WaitGroup // everyone who sends on finishedWork
	stage := func(n int, out chan<- *work, step func(*work) bool, in func(yield func(*work))) {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			producers.Add(1)
			go func() {
				defer wg.Done()
				defer producers.Done()
				in(func(w *work) {
					if step(w) {
						out <- w
					} else {
						finishedWork <- w
					}
				})
			}()
		}
		go func() { wg.Wait(); close(out) }()
	}
	stage(cfg.Fetchers, fetched, func(w *work) bool { return w.data != nil || w.stream }, func(yield func(*work)) {
		for it := range items {
			if ctx.Err() != nil {
				continue // interrupted: take no new inputs
			}
			yield(r.fetch(workCtx, it))
		}
	})
	stage(cfg.Preparers, prepared, func(w *work) bool { return r.prepare(workCtx, w) }, func(yield func(*work)) {
		for w := range fetched {
			yield(w)
		}
	})
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
	return records, enumErr
}

// collect adds each finished input to the records and counts it in sum.
// After a records error it drains the pipeline and returns the error.
func (r *runner) collect(ctx context.Context, finished <-chan *work, recs *records, sum *Summary, cancelWork context.CancelFunc) error {
	var recErr error
	for w := range finished {
		if w.fail != nil && w.fail.Code == infer.CodeCanceled && ctx.Err() != nil {
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
		if w.fail != nil && !w.permanent {
			sum.RunFailed++
		}
		if w.skipped {
			sum.Skipped++
		} else {
			r.work.Add(1)
		}
		r.done.Add(1)
	}
	return recErr
}

// finish completes sum, writes the shard's records and the job summary,
// and returns the run's outcome.
func (r *runner) finish(ctx context.Context, recs *records, sum Summary, enumErr error) (Summary, error) {
	cfg := r.cfg
	sum.Succeeded, sum.Failed = recs.results.len(), recs.failures.len()
	sum.Inputs = sum.Succeeded + sum.Failed
	sum.Processed = sum.Inputs - sum.Skipped
	sum.Ended = time.Now().UTC()
	sum.Seconds = sum.Ended.Sub(sum.Started).Seconds()
	if sum.Seconds > 0 {
		sum.ImagesPerSec = float64(sum.Processed) / sum.Seconds
	}
	sum.Interrupted = ctx.Err() != nil

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

// prepare decodes and preprocesses w.data once the decode budget admits
// it; false when w failed.
func (r *runner) prepare(ctx context.Context, w *work) bool {
	if w.stream {
		return r.prepareStream(ctx, w)
	}
	return r.prepareWhole(ctx, w)
}

// prepareWhole prepares w.data, read whole, and hands its buffer and its
// share of the read budget back.
func (r *runner) prepareWhole(ctx context.Context, w *work) bool {
	in, err := admit.Prepare(ctx, r.gate, w.data, r.c.Prepare)
	r.bufs.put(w.data) // Prepare keeps no reference to its input
	r.budget.release(w.held)
	w.data, w.held = nil, 0
	return r.prepared(w, in, err)
}

// prepared records what preparing w gave; false when w failed.
func (r *runner) prepared(w *work, in *infer.Input, err error) bool {
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
