// Package submit turns a set of uploads into AWS Batch work: it writes one
// manifest and makes one SubmitJob call, an array job sized so each child
// works about ten minutes (or a plain job when one child suffices), and
// retries throttling and server errors with backoff. The Lambda submitter
// and `mlserve submit` share it.
package submit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	mlbatch "github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/exitcode"
)

// JobSubmitter submits AWS Batch jobs; *batch.Client implements it.
type JobSubmitter interface {
	SubmitJob(ctx context.Context, in *batch.SubmitJobInput, optFns ...func(*batch.Options)) (*batch.SubmitJobOutput, error)
}

// ObjectWriter stores an object addressed by URL (s3://bucket/key).
type ObjectWriter interface {
	WriteURL(ctx context.Context, uri string, data []byte) error
}

var _ JobSubmitter = (*batch.Client)(nil)

// DefaultImagesPerChild sizes array children to about ten minutes of work.
// `mlserve batch` classified 13.56 images/s with ResNet-50 (BENCHMARKS.md,
// "Batch (issue 6)"): 600 s x 13.56 = 8,136 images. 6,000 (74% of that)
// leaves room for S3 latency, the model load and a slower vCPU.
const DefaultImagesPerChild = 6000

// MaxChildren is AWS Batch's largest array size.
const MaxChildren = 10000

// Config is the job a submission makes.
type Config struct {
	JobQueue       string // AWS Batch job queue (required)
	JobDefinition  string // AWS Batch job definition (required)
	JobNamePrefix  string // default "mlserve"
	ManifestPrefix string // key prefix of manifests (default "manifests/")
	OutputPrefix   string // key prefix results go to (default "output/")
	// ImagesPerChild is how many images one array child takes (default
	// DefaultImagesPerChild).
	ImagesPerChild int
	// JobAttempts is the retry strategy's attempt count (default 3).
	JobAttempts int
	// Trigger tags the job with what caused it: s3, sqs, sweep, manual.
	Trigger string
	// Retry governs SubmitJob retries (zero: DefaultRetry).
	Retry Retry
}

func (c *Config) setDefaults() {
	if c.JobNamePrefix == "" {
		c.JobNamePrefix = "mlserve"
	}
	if c.ManifestPrefix == "" {
		c.ManifestPrefix = "manifests/"
	}
	if c.OutputPrefix == "" {
		c.OutputPrefix = "output/"
	}
	if c.ImagesPerChild <= 0 {
		c.ImagesPerChild = DefaultImagesPerChild
	}
	if c.JobAttempts <= 0 {
		c.JobAttempts = 3
	}
	if c.Trigger == "" {
		c.Trigger = "manual"
	}
	if c.Retry == (Retry{}) {
		c.Retry = DefaultRetry
	}
}

// Check reports a configuration that cannot submit, as a *ConfigError.
func (c Config) Check() error {
	var missing []string
	if c.JobQueue == "" {
		missing = append(missing, "job queue (MLSERVE_JOB_QUEUE)")
	}
	if c.JobDefinition == "" {
		missing = append(missing, "job definition (MLSERVE_JOB_DEFINITION)")
	}
	if len(missing) > 0 {
		return &ConfigError{Missing: missing}
	}
	return nil
}

// ConfigError names the settings a submission lacks.
type ConfigError struct{ Missing []string }

func (e *ConfigError) Error() string {
	return fmt.Sprintf("submitting AWS Batch jobs needs a %s", joinAnd(e.Missing))
}

func joinAnd(s []string) string {
	out := ""
	for i, v := range s {
		switch {
		case i == 0:
		case i == len(s)-1:
			out += " and "
		default:
			out += ", "
		}
		out += v
	}
	return out
}

// Job is one submitted AWS Batch job.
type Job struct {
	JobID     string `json:"job_id"`
	JobName   string `json:"job_name"`
	JobARN    string `json:"job_arn,omitempty"`
	Manifest  string `json:"manifest,omitempty"`
	Input     string `json:"input,omitempty"` // the prefix a job without a manifest lists
	Output    string `json:"output"`
	Images    int    `json:"images"`
	ArraySize int    `json:"array_size,omitempty"`
	// Summary is where the job writes its summary (under output/_jobs/<job id>/).
	Summary string `json:"summary,omitempty"`
	// Attempts is how many SubmitJob calls it took.
	Attempts int `json:"submit_attempts"`
}

// Submitter writes manifests and submits jobs.
type Submitter struct {
	cfg   Config
	jobs  JobSubmitter
	store ObjectWriter
	log   *slog.Logger
	sleep func(context.Context, time.Duration) error
}

// New returns a Submitter; log nil means slog.Default().
func New(cfg Config, jobs JobSubmitter, store ObjectWriter, log *slog.Logger) *Submitter {
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	return &Submitter{cfg: cfg, jobs: jobs, store: store, log: log, sleep: sleepCtx}
}

// Config returns the configuration with its defaults.
func (s *Submitter) Config() Config { return s.cfg }

// Children is the array size for n images: ceil(n / ImagesPerChild), at
// most MaxChildren; 1 means a plain job.
func (s *Submitter) Children(n int) int {
	return Children(n, s.cfg.ImagesPerChild)
}

// Children is ceil(n / perChild) clamped to 1..MaxChildren.
func Children(n, perChild int) int {
	if perChild <= 0 {
		perChild = DefaultImagesPerChild
	}
	c := (n + perChild - 1) / perChild
	return max(1, min(c, MaxChildren))
}

// ManifestError is a manifest that could not be written.
type ManifestError struct {
	URI string
	Err error
}

func (e *ManifestError) Error() string { return fmt.Sprintf("write manifest %s: %v", e.URI, e.Err) }
func (e *ManifestError) Unwrap() error { return e.Err }

// SubmitJobError is a SubmitJob call that failed after its retries.
type SubmitJobError struct {
	JobName, JobQueue string
	Attempts          int
	Err               error
}

func (e *SubmitJobError) Error() string {
	return fmt.Sprintf("submit job %s to queue %s (%d attempts): %v", e.JobName, e.JobQueue, e.Attempts, e.Err)
}
func (e *SubmitJobError) Unwrap() error { return e.Err }

// Keys writes the manifest of keys in bucket (JSON Lines of s3:// URIs)
// and submits the one job that reads it, named name. Outputs are named
// relative to inputPrefix (a key prefix, "input/").
func (s *Submitter) Keys(ctx context.Context, name, bucket, inputPrefix string, keys []string) (Job, error) {
	if err := s.cfg.Check(); err != nil {
		return Job{}, err
	}
	manifest := "s3://" + bucket + "/" + s.cfg.ManifestPrefix + name + ".jsonl"
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, k := range keys {
		_ = enc.Encode("s3://" + bucket + "/" + k) // strings always encode
	}
	if err := s.store.WriteURL(ctx, manifest, buf.Bytes()); err != nil {
		return Job{}, &ManifestError{URI: manifest, Err: err}
	}
	return s.Manifest(ctx, name, bucket, manifest, "s3://"+bucket+"/"+inputPrefix, len(keys))
}

// Manifest submits a job over an existing manifest of n images. input is
// the prefix URL outputs are named relative to (s3://bucket/input/ makes
// input/a/b.jpg's result output/a/b.jpg.json); "" lets the job pick the
// manifest's common folder.
func (s *Submitter) Manifest(ctx context.Context, name, bucket, manifest, input string, n int) (Job, error) {
	out := "s3://" + bucket + "/" + s.cfg.OutputPrefix
	job := Job{JobName: name, Manifest: manifest, Input: input, Output: out, Images: n}
	return s.submit(ctx, job, mlbatch.JobCommand(manifest, input, out), bucket)
}

// Prefix submits a job that lists and classifies everything under the
// input prefix URL (s3://bucket/input/); n estimates its images for the
// array size (0: a plain job).
func (s *Submitter) Prefix(ctx context.Context, name, bucket, input string, n int) (Job, error) {
	out := "s3://" + bucket + "/" + s.cfg.OutputPrefix
	job := Job{JobName: name, Input: input, Output: out, Images: n}
	return s.submit(ctx, job, mlbatch.PrefixCommand(input, out), bucket)
}

func (s *Submitter) submit(ctx context.Context, job Job, command []string, bucket string) (Job, error) {
	if err := s.cfg.Check(); err != nil {
		return Job{}, err
	}
	in := s.jobInput(job.JobName, bucket, command, job.Images)
	if in.ArrayProperties != nil {
		job.ArraySize = int(aws.ToInt32(in.ArrayProperties.Size))
	}
	res, attempts, err := s.submitWithRetry(ctx, in)
	job.Attempts = attempts
	if err != nil {
		s.log.ErrorContext(ctx, "submit job failed", "job_name", job.JobName, "job_queue", s.cfg.JobQueue,
			"images", job.Images, "attempts", attempts, "err", err)
		return job, &SubmitJobError{JobName: job.JobName, JobQueue: s.cfg.JobQueue, Attempts: attempts, Err: err}
	}
	job.JobID, job.JobARN = aws.ToString(res.JobId), aws.ToString(res.JobArn)
	job.Summary = job.Output + "_jobs/" + job.JobID + "/summary.json"
	s.log.InfoContext(ctx, "submitted job", "job_id", job.JobID, "job_name", job.JobName, "job_queue", s.cfg.JobQueue,
		"images", job.Images, "array_size", job.ArraySize, "manifest", job.Manifest, "input", job.Input,
		"attempts", attempts, "summary", job.Summary)
	return job, nil
}

// jobInput builds the SubmitJob request. The container's entrypoint is
// the mlserve binary, so the command override is its arguments.
func (s *Submitter) jobInput(name, bucket string, command []string, n int) *batch.SubmitJobInput {
	in := &batch.SubmitJobInput{
		JobName:            aws.String(name),
		JobQueue:           aws.String(s.cfg.JobQueue),
		JobDefinition:      aws.String(s.cfg.JobDefinition),
		ContainerOverrides: &types.ContainerOverrides{Command: command},
		RetryStrategy: &types.RetryStrategy{
			Attempts: aws.Int32(int32(s.cfg.JobAttempts)),
			// Retry lost hosts and Spot reclaims ("Host EC2 (instance
			// i-...) terminated") and interrupted runs (exit 3, which
			// resume); bad input (exit 1) and usage (exit 2) would fail
			// again. Anything else matches no rule and is retried.
			EvaluateOnExit: []types.EvaluateOnExit{
				{OnStatusReason: aws.String("Host EC2*"), Action: types.RetryActionRetry},
				{OnExitCode: aws.String(strconv.Itoa(exitcode.Interrupted)), Action: types.RetryActionRetry},
				{OnExitCode: aws.String(strconv.Itoa(exitcode.Failure)), Action: types.RetryActionExit},
				{OnExitCode: aws.String(strconv.Itoa(exitcode.Usage)), Action: types.RetryActionExit},
			},
		},
		Tags: map[string]string{
			"app":             "mlserve",
			"mlserve:trigger": s.cfg.Trigger,
			"mlserve:bucket":  bucket,
			"mlserve:images":  strconv.Itoa(n),
		},
	}
	// AWS Batch array sizes run from 2 to 10000.
	if children := s.Children(n); children >= 2 {
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(int32(children))}
		in.ContainerOverrides.Environment = []types.KeyValuePair{
			{Name: aws.String("MLSERVE_SHARDS"), Value: aws.String(strconv.Itoa(children))},
		}
	}
	return in
}
