package stack

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// Architecture is the CPU architecture of both functions and the Batch job.
type Architecture string

const (
	X86_64 Architecture = "x86_64"
	ARM64  Architecture = "arm64"
)

// Auth is how callers of POST /predict authenticate.
type Auth string

const (
	// AuthIAM requires SigV4-signed requests from a principal allowed to
	// call execute-api:Invoke on the route (the default).
	AuthIAM Auth = "iam"
	// AuthJWT validates a bearer token from an OIDC/OAuth 2.0 issuer.
	AuthJWT Auth = "jwt"
	// AuthPublic lets anyone call the route; throttling and reserved
	// concurrency are then the only limits. It must be chosen on purpose.
	AuthPublic Auth = "public"
)

// Props configure the stack. Zero values take the defaults in Defaults;
// a negative count turns a feature off where a field says so.
type Props struct {
	awscdk.StackProps

	// ImageDir is the directory with the Dockerfile: the repository root.
	ImageDir string
	// Architecture of both functions and of the job's Fargate tasks.
	// Fargate Spot runs x86_64 only: with arm64 the queue has on-demand
	// Fargate alone.
	Architecture Architecture

	// PredictMemoryMiB is the predict function's memory (and so its CPU share).
	PredictMemoryMiB int
	// PredictConcurrency is predict's reserved concurrency: at most this
	// many requests run at once, and the submitter keeps its share of the
	// account. Negative: no reservation.
	PredictConcurrency int
	// FunctionURL adds an IAM-authenticated Lambda Function URL to predict.
	FunctionURL bool

	// Auth, JWTIssuer and JWTAudience protect POST /predict.
	Auth        Auth
	JWTIssuer   string
	JWTAudience []string
	// CORSOrigins allowed to call the API from a browser; empty: no CORS.
	CORSOrigins []string
	// ThrottleRate (requests per second, steady) and ThrottleBurst bound
	// every route of the API; a client over them gets 429.
	ThrottleRate  float64
	ThrottleBurst int

	// SubmitterMemoryMiB and SubmitterTimeout size the submitter, which
	// classifies small bursts itself (the model loaded on first need).
	SubmitterMemoryMiB int
	SubmitterTimeout   time.Duration
	// SubmitterConcurrency is the submitter's reserved concurrency.
	// Negative: no reservation.
	SubmitterConcurrency int
	// BatchWindow is how long the event source mapping gathers uploads
	// before one invocation (1 s to 5 minutes).
	BatchWindow time.Duration
	// BatchSize is the most messages in one invocation (1 to 10,000).
	BatchSize int
	// MaxReceives is how often a message is delivered before it moves to
	// the dead-letter queue.
	MaxReceives int
	// ImagesPerChild is how many images one Batch array child classifies.
	ImagesPerChild int
	// DirectMax is the largest burst the submitter classifies itself;
	// negative: never (MLSERVE_DIRECT_MAX=0).
	DirectMax int
	// AlarmTopicARN, an existing SNS topic, is told when the dead-letter
	// queue alarm fires and when it clears. Empty: the alarm has no action.
	AlarmTopicARN string
	// SweepSchedule, an EventBridge schedule expression such as
	// "rate(1 day)", runs a sweep over input/ that classifies anything
	// without a result. Empty: no schedule.
	SweepSchedule string

	// NoFlowLogs turns off the VPC flow log (on by default).
	NoFlowLogs bool
	// LogRetention applies to every log group the stack creates.
	LogRetention awslogs.RetentionDays
	// AccessLogDays is how long the bucket's server access logs are kept.
	AccessLogDays int

	// JobVCPU and JobMemoryMiB size one Batch job (a valid Fargate pair).
	JobVCPU      float64
	JobMemoryMiB int
	// MaxVCPUs caps each compute environment.
	MaxVCPUs int
	// JobTimeout ends an attempt that runs longer.
	JobTimeout time.Duration
	// JobAttempts is how often Batch tries a job (1-10).
	JobAttempts int
	// DestroyBucket empties and deletes the buckets on `cdk destroy`
	// (default: the buckets and their data are kept).
	DestroyBucket bool
}

// imagesPerVCPU is the default ImagesPerChild per job vCPU: a child should
// work about 10 minutes. BENCHMARKS.md measures 45 ms per image at batch 8
// on 2 cores, about 0.2 vCPU-seconds with hyper-threaded Fargate vCPUs;
// with S3 reads and decoding full-size photos we count 0.25 s, so
// 600 s / 0.25 s = 2,400 images per vCPU.
const imagesPerVCPU = 2400

// Defaults returns the props the app uses when cdk.json and -c set nothing.
func Defaults() Props {
	return Props{
		ImageDir:             "..",
		Architecture:         X86_64,
		PredictMemoryMiB:     3008,
		PredictConcurrency:   20,
		Auth:                 AuthIAM,
		ThrottleRate:         10,
		ThrottleBurst:        20,
		SubmitterMemoryMiB:   3008, // it may load the model for a small burst
		SubmitterTimeout:     5 * time.Minute,
		SubmitterConcurrency: 5,
		BatchWindow:          30 * time.Second,
		BatchSize:            10000,
		MaxReceives:          5,
		DirectMax:            8,
		LogRetention:         awslogs.RetentionDays_TWO_WEEKS,
		AccessLogDays:        90,
		JobVCPU:              4,
		JobMemoryMiB:         8192,
		MaxVCPUs:             64,
		JobTimeout:           4 * time.Hour,
		JobAttempts:          3,
	}
}

// setDefault sets *v to d when *v is the zero value.
func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

func (p *Props) fill() error {
	d := Defaults()
	setDefault(&p.ImageDir, d.ImageDir)
	setDefault(&p.Architecture, d.Architecture)
	setDefault(&p.PredictMemoryMiB, d.PredictMemoryMiB)
	setDefault(&p.PredictConcurrency, d.PredictConcurrency)
	setDefault(&p.Auth, d.Auth)
	setDefault(&p.ThrottleRate, d.ThrottleRate)
	setDefault(&p.ThrottleBurst, d.ThrottleBurst)
	setDefault(&p.SubmitterMemoryMiB, d.SubmitterMemoryMiB)
	setDefault(&p.SubmitterTimeout, d.SubmitterTimeout)
	setDefault(&p.SubmitterConcurrency, d.SubmitterConcurrency)
	setDefault(&p.BatchWindow, d.BatchWindow)
	setDefault(&p.BatchSize, d.BatchSize)
	setDefault(&p.MaxReceives, d.MaxReceives)
	setDefault(&p.DirectMax, d.DirectMax)
	setDefault(&p.LogRetention, d.LogRetention)
	setDefault(&p.AccessLogDays, d.AccessLogDays)
	setDefault(&p.JobVCPU, d.JobVCPU)
	setDefault(&p.JobMemoryMiB, d.JobMemoryMiB)
	setDefault(&p.MaxVCPUs, d.MaxVCPUs)
	setDefault(&p.JobTimeout, d.JobTimeout)
	setDefault(&p.JobAttempts, d.JobAttempts)
	setDefault(&p.ImagesPerChild, int(p.JobVCPU*imagesPerVCPU))
	if err := p.validateFunctions(); err != nil {
		return err
	}
	if err := p.validateAPI(); err != nil {
		return err
	}
	return p.validateBatch()
}

func (p *Props) validateFunctions() error {
	switch {
	case p.Architecture != X86_64 && p.Architecture != ARM64:
		return fmt.Errorf("architecture %q: want %s or %s", p.Architecture, X86_64, ARM64)
	case p.PredictMemoryMiB < 128 || p.PredictMemoryMiB > 10240:
		return fmt.Errorf("predict memory %d MiB: want 128..10240", p.PredictMemoryMiB)
	case p.SubmitterMemoryMiB < 128 || p.SubmitterMemoryMiB > 10240:
		return fmt.Errorf("submitter memory %d MiB: want 128..10240", p.SubmitterMemoryMiB)
	case p.SubmitterTimeout < 30*time.Second || p.SubmitterTimeout > 15*time.Minute:
		return fmt.Errorf("submitter timeout %v: want 30s..15m", p.SubmitterTimeout)
	case p.SubmitterConcurrency > 0 && p.SubmitterConcurrency < eventSourceConcurrency:
		// The event source mapping's maximum concurrency may not exceed
		// the function's reserved concurrency.
		return fmt.Errorf("submitter concurrency %d: want at least %d (the event source mapping's concurrency) or negative for none",
			p.SubmitterConcurrency, eventSourceConcurrency)
	case p.BatchWindow < time.Second || p.BatchWindow > 5*time.Minute:
		return fmt.Errorf("batch window %v: want 1s..300s", p.BatchWindow)
	case p.BatchWindow%time.Second != 0:
		return fmt.Errorf("batch window %v: want whole seconds", p.BatchWindow)
	case p.BatchSize < 1 || p.BatchSize > 10000:
		return fmt.Errorf("batch size %d: want 1..10000", p.BatchSize)
	case p.MaxReceives < 1 || p.MaxReceives > 1000:
		return fmt.Errorf("max receives %d: want 1..1000", p.MaxReceives)
	case p.ImagesPerChild < 1:
		return fmt.Errorf("images per child %d: want at least 1", p.ImagesPerChild)
	case p.AlarmTopicARN != "" && !isTopicARN(p.AlarmTopicARN):
		return fmt.Errorf("alarm topic %q: want an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)", p.AlarmTopicARN)
	case p.SweepSchedule != "" && !strings.HasPrefix(p.SweepSchedule, "rate(") && !strings.HasPrefix(p.SweepSchedule, "cron("):
		return fmt.Errorf("sweep schedule %q: want rate(...) or cron(...)", p.SweepSchedule)
	}
	return nil
}

func (p *Props) validateAPI() error {
	switch p.Auth {
	case AuthIAM, AuthPublic:
		if p.JWTIssuer != "" || len(p.JWTAudience) > 0 {
			return fmt.Errorf("jwt issuer and audience need auth %s, not %s", AuthJWT, p.Auth)
		}
	case AuthJWT:
		u, err := url.Parse(p.JWTIssuer)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("auth jwt: issuer %q: want an https:// URL", p.JWTIssuer)
		}
		if len(p.JWTAudience) == 0 {
			return fmt.Errorf("auth jwt: want at least one audience")
		}
	default:
		return fmt.Errorf("auth %q: want %s (default), %s or %s", p.Auth, AuthIAM, AuthJWT, AuthPublic)
	}
	for _, o := range p.CORSOrigins {
		if o != "*" && !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") {
			return fmt.Errorf("cors origin %q: want * or a scheme://host origin", o)
		}
	}
	switch {
	case p.ThrottleRate <= 0:
		return fmt.Errorf("throttle rate %v: want more than 0 requests per second", p.ThrottleRate)
	case p.ThrottleBurst < 1:
		return fmt.Errorf("throttle burst %d: want at least 1", p.ThrottleBurst)
	case p.PredictConcurrency > 0 && p.PredictConcurrency < p.ThrottleBurst:
		// A burst the API admits but Lambda throttles comes back as 500
		// from API Gateway instead of the API's own 429.
		return fmt.Errorf("predict concurrency %d is below the throttle burst %d: callers would see 500 instead of 429",
			p.PredictConcurrency, p.ThrottleBurst)
	}
	return nil
}

func (p *Props) validateBatch() error {
	switch {
	case p.JobAttempts < 1 || p.JobAttempts > 10:
		return fmt.Errorf("job attempts %d: want 1..10", p.JobAttempts)
	case p.JobTimeout < time.Minute:
		return fmt.Errorf("job timeout %v: want at least 1m", p.JobTimeout)
	case p.MaxVCPUs < int(p.JobVCPU):
		return fmt.Errorf("max vCPUs %d is less than one job's %v", p.MaxVCPUs, p.JobVCPU)
	case p.AccessLogDays < 1:
		return fmt.Errorf("access log days %d: want at least 1", p.AccessLogDays)
	}
	return nil
}

// isTopicARN reports whether s looks like arn:<partition>:sns:<region>:<account>:<name>.
func isTopicARN(s string) bool {
	f := strings.Split(s, ":")
	return len(f) == 6 && f[0] == "arn" && f[2] == "sns" && f[3] != "" && f[4] != "" && f[5] != ""
}
