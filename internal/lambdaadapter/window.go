package lambdaadapter

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mlserve/mlserve/internal/submit"
)

// answerReserve is the time kept, before the invocation's deadline, to
// answer Lambda after the last SubmitJob attempt.
const answerReserve = 2 * time.Second

func (h *Handler) newWindow() *submit.Window {
	return &submit.Window{InputPrefix: h.cfg.InputPrefix}
}

// windowResult is what became of a window's uploads.
type windowResult struct {
	Jobs   []Job
	Direct []DirectBurst
	// Failed are the owners (SQS message ids) of uploads that are neither
	// classified nor in a submitted job.
	Failed []string
	Err    error // the first failure, as the handler's error type
}

// processWindow classifies a small window in the function (when allowed)
// and submits one job per bucket for the rest.
func (h *Handler) processWindow(ctx context.Context, w *submit.Window, trigger string, direct bool) windowResult {
	var res windowResult
	for _, s := range w.Skipped {
		h.log.InfoContext(ctx, "skipped S3 record", "bucket", s.Bucket, "key", s.Key, "reason", s.Reason)
	}
	groups := w.Groups()
	if len(groups) == 0 {
		h.log.InfoContext(ctx, "no images to submit", "skipped", len(w.Skipped))
		return res
	}
	base := h.jobNameBase(ctx)
	for i, g := range groups {
		// A notification names one bucket; should a window ever hold
		// several, each gets its own job, since a job reads and writes its
		// own bucket.
		name := base
		if len(groups) > 1 {
			name = submit.JobName(base, "-"+strconv.Itoa(i+1))
		}
		keys := g.Keys
		if direct && h.directAllowed(w.Images()) {
			burst, rest := h.classifyBurst(ctx, name, g)
			if burst != nil {
				res.Direct = append(res.Direct, *burst)
			}
			keys = rest
		}
		if len(keys) == 0 {
			continue
		}
		job, err := h.submitKeys(ctx, name, g.Bucket, keys, trigger)
		if err != nil {
			res.Failed = append(res.Failed, g.AllOwners()...)
			if res.Err == nil {
				res.Err = err
			}
			continue
		}
		res.Jobs = append(res.Jobs, job)
	}
	return res
}

// submitKeys submits one job for keys. Its errors are *ManifestError and
// *SubmitJobError (Lambda names them in errorType).
func (h *Handler) submitKeys(ctx context.Context, name, bucket string, keys []string, trigger string) (Job, error) {
	if err := h.checkJobConfig(); err != nil {
		return Job{}, err
	}
	cfg := h.submitConfig()
	cfg.Trigger = trigger
	// Stop retrying in time to answer: an invocation cut off by its
	// timeout has every message of the window delivered again.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-answerReserve))
		defer cancel()
	}
	return submit.New(cfg, h.jobs, h.store, h.log).Keys(ctx, name, bucket, h.cfg.InputPrefix, keys)
}

func (h *Handler) submitConfig() submit.Config {
	return submit.Config{
		JobQueue: h.cfg.JobQueue, JobDefinition: h.cfg.JobDefinition, JobNamePrefix: h.cfg.JobNamePrefix,
		ManifestPrefix: h.cfg.ManifestPrefix, OutputPrefix: h.cfg.OutputPrefix,
		ImagesPerChild: h.cfg.Scale.ImagesPerChild, JobAttempts: h.cfg.JobAttempts, Retry: h.cfg.Scale.Retry,
	}
}

func (h *Handler) checkJobConfig() error {
	var missing []string
	if h.cfg.JobQueue == "" {
		missing = append(missing, "job queue (MLSERVE_JOB_QUEUE)")
	}
	if h.cfg.JobDefinition == "" {
		missing = append(missing, "job definition (MLSERVE_JOB_DEFINITION)")
	}
	if h.jobs == nil {
		missing = append(missing, "AWS Batch client")
	}
	if h.store == nil {
		missing = append(missing, "S3 store for manifests")
	}
	if len(missing) > 0 {
		return &ConfigError{Message: (&submit.ConfigError{Missing: missing}).Error()}
	}
	return nil
}

// jobNameBase names the window's job after the request id, so a retried
// delivery of the same event rewrites the same manifest.
func (h *Handler) jobNameBase(ctx context.Context) string {
	id := ""
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		id = "-" + lc.AwsRequestID
	} else {
		id = submit.UniqueSuffix(timeNow())
	}
	return submit.JobName(h.cfg.JobNamePrefix, id)
}
