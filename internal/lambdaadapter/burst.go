package lambdaadapter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/s3io"
	"github.com/mlserve/mlserve/internal/submit"
)

var timeNow = time.Now

// ScaleConfig holds the settings of the batch path at scale: job sizing,
// SubmitJob retries, small bursts classified in the function, sweeps.
type ScaleConfig struct {
	// ImagesPerChild sizes array jobs (default submit.DefaultImagesPerChild).
	ImagesPerChild int
	// Retry governs SubmitJob retries (zero: submit.DefaultRetry).
	Retry submit.Retry

	// DirectMax: a window of at most this many images is classified in the
	// function itself, writing the records a batch job writes; 0 turns
	// this off. Needs LoadModel.
	DirectMax int
	// LoadModel loads the model on the first direct burst (and returns the
	// loaded one after). nil turns direct bursts off.
	LoadModel func(ctx context.Context) (batch.Classifier, error)
	// DirectReserve is the time kept back from the invocation's deadline
	// to write records and submit what did not fit (default 10s).
	DirectReserve time.Duration
	// DirectImageCost estimates one image until one was measured
	// (default 1s); DirectLoadCost estimates the model load (default 15s).
	DirectImageCost, DirectLoadCost time.Duration
	// TempDir holds the direct runs' record spools (default os.TempDir()).
	TempDir string

	// Bucket is the bucket a sweep lists when the event names none
	// (MLSERVE_BUCKET).
	Bucket string
	// OpenStore opens stores for sweeps and direct runs (default s3io.Open).
	OpenStore func(ctx context.Context, url string) (s3io.Store, error)
}

func (c *ScaleConfig) setDefaults() {
	if c.DirectReserve <= 0 {
		c.DirectReserve = 10 * time.Second
	}
	if c.DirectImageCost <= 0 {
		c.DirectImageCost = time.Second
	}
	if c.DirectLoadCost <= 0 {
		c.DirectLoadCost = 15 * time.Second
	}
}

// DirectBurst is a window's images classified in the function.
type DirectBurst struct {
	Job       string `json:"job"`
	Bucket    string `json:"bucket"`
	Images    int    `json:"images"`
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
	Summary   string `json:"summary"`
	// Deferred images went to AWS Batch: they did not fit the time left,
	// or the run did not finish them.
	Deferred int `json:"deferred,omitempty"`
}

// burstState is the lazily loaded model and the measured cost per image.
type burstState struct {
	mu      sync.Mutex
	clf     batch.Classifier
	perItem time.Duration
}

func (h *Handler) directAllowed(images int) bool {
	s := h.cfg.Scale
	return s.DirectMax > 0 && images <= s.DirectMax && s.LoadModel != nil
}

func (h *Handler) burstModel(ctx context.Context) (batch.Classifier, error) {
	h.burst.mu.Lock()
	defer h.burst.mu.Unlock()
	if h.burst.clf != nil {
		return h.burst.clf, nil
	}
	start := timeNow()
	clf, err := h.cfg.Scale.LoadModel(ctx)
	if err != nil {
		return nil, err
	}
	h.burst.clf = clf
	h.log.InfoContext(ctx, "direct bursts: model loaded", "model", clf.Info().Name, "load_ms", time.Since(start).Milliseconds())
	return clf, nil
}

// fit returns how many of n images fit before the deadline.
func (h *Handler) fit(ctx context.Context, n int) (int, time.Time) {
	s := h.cfg.Scale
	dl, ok := ctx.Deadline()
	if !ok {
		dl = timeNow().Add(time.Minute)
	}
	avail := time.Until(dl) - s.DirectReserve
	h.burst.mu.Lock()
	loaded, per := h.burst.clf != nil, h.burst.perItem
	h.burst.mu.Unlock()
	if !loaded {
		avail -= s.DirectLoadCost
	}
	if per <= 0 {
		per = s.DirectImageCost
	}
	if avail <= 0 {
		return 0, dl
	}
	return min(n, int(avail/per)), dl
}

// classifyBurst classifies what fits of g's keys in the function, with
// `mlserve batch`'s runner, so the records are the ones a batch job
// writes. It returns the burst and the keys left for AWS Batch.
func (h *Handler) classifyBurst(ctx context.Context, name string, g *submit.Group) (*DirectBurst, []string) {
	n, dl := h.fit(ctx, len(g.Keys))
	if n == 0 {
		h.log.InfoContext(ctx, "direct burst: no time left, submitting to AWS Batch", "images", len(g.Keys))
		return nil, g.Keys
	}
	clf, err := h.burstModel(ctx)
	if err != nil {
		h.log.ErrorContext(ctx, "direct burst: model load failed, submitting to AWS Batch", "err", err)
		return nil, g.Keys
	}
	keys, rest := g.Keys[:n], g.Keys[n:]
	input := "s3://" + g.Bucket + "/" + h.cfg.InputPrefix
	uris := make([]string, len(keys))
	for i, k := range keys {
		uris[i] = "s3://" + g.Bucket + "/" + k
	}
	job := submit.JobName(name, "-direct")
	cfg := batch.Config{
		Input: input, Inputs: uris, Output: "s3://" + g.Bucket + "/" + h.cfg.OutputPrefix, Job: job,
		TopK: h.cfg.TopK, MaxFailures: batch.Threshold{N: 100, Percent: true},
		Grace: time.Second, ProgressEvery: -1, Log: h.log,
		TempDir: h.cfg.Scale.TempDir, OpenStore: h.cfg.Scale.OpenStore,
		DecodeBudget: h.cfg.DecodeBudget,
	}
	runCtx, cancel := context.WithDeadline(ctx, dl.Add(-h.cfg.Scale.DirectReserve))
	defer cancel()
	start := timeNow()
	sum, err := batch.Run(runCtx, clf, cfg)
	if sum.Processed > 0 {
		h.burst.mu.Lock()
		h.burst.perItem = time.Since(start) / time.Duration(sum.Processed)
		h.burst.mu.Unlock()
	}
	b := &DirectBurst{Job: job, Bucket: g.Bucket, Images: len(keys), Succeeded: sum.Succeeded, Failed: sum.Failed,
		Summary: s3io.JoinURL(cfg.Output, batch.JobSummaryKey(job))}
	var fe *batch.FailuresError
	if (err != nil && !errors.As(err, &fe)) || sum.RunFailed > 0 || sum.Inputs < len(keys) {
		// Unfinished or failed for want of storage: the batch job redoes
		// them (and skips what this run finished, by ETag).
		h.log.WarnContext(ctx, "direct burst incomplete, submitting it to AWS Batch", "job", job,
			"images", len(keys), "recorded", sum.Inputs, "run_failed", sum.RunFailed, "err", errString(err))
		rest = g.Keys
	}
	b.Deferred = len(rest)
	h.log.InfoContext(ctx, "direct burst", "job", job, "images", len(keys), "succeeded", sum.Succeeded,
		"failed", sum.Failed, "deferred", len(rest), "duration_ms", msSince(start), "summary", b.Summary)
	return b, rest
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprint(err)
}
