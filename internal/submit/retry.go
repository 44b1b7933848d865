package submit

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/batch"
)

// Retry is how SubmitJob failures are retried, on top of the SDK's own
// per-request retries: throttling (429, AWS Batch's fixed 50 SubmitJob
// calls per second), server errors (5xx) and connection errors are tried
// again after a jittered exponential backoff; client errors are not.
type Retry struct {
	Attempts int           // SubmitJob calls at most (default 6)
	Base     time.Duration // first backoff (default 500ms); each next one doubles
	Max      time.Duration // longest backoff (default 8s)
}

// DefaultRetry waits about 0.5+1+2+4+8 s at most over 6 attempts.
var DefaultRetry = Retry{Attempts: 6, Base: 500 * time.Millisecond, Max: 8 * time.Second}

func (r Retry) backoff(attempt int) time.Duration {
	d := r.Base << (attempt - 1)
	if d > r.Max || d <= 0 {
		d = r.Max
	}
	// Half fixed, half jitter: callers throttled together spread out.
	return d/2 + rand.N(d/2+1)
}

// Retryable reports whether a SubmitJob error may succeed when tried again.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		switch coded.ErrorCode() {
		case "TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded", "ServerException":
			return true
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		code := re.HTTPStatusCode()
		return code == 429 || code >= 500
	}
	// No HTTP response at all: a connection error.
	return true
}

func (s *Submitter) submitWithRetry(ctx context.Context, in *batch.SubmitJobInput) (*batch.SubmitJobOutput, int, error) {
	r := s.cfg.Retry
	attempts := max(r.Attempts, 1)
	var err error
	for a := 1; ; a++ {
		var out *batch.SubmitJobOutput
		out, err = s.jobs.SubmitJob(ctx, in)
		if err == nil {
			return out, a, nil
		}
		if a >= attempts || !Retryable(err) {
			return nil, a, err
		}
		wait := r.backoff(a)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, a, err // no time left to try again: report it now
		}
		s.log.WarnContext(ctx, "SubmitJob failed, retrying", "job_name", *in.JobName, "attempt", a, "backoff", wait, "err", err)
		if serr := s.sleep(ctx, wait); serr != nil {
			return nil, a, err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
