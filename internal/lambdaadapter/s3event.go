package lambdaadapter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	mlbatch "github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/exitcode"
	"github.com/mlserve/mlserve/internal/imageprep"
)

// s3Event is the part of an S3 notification the handler reads. It is its
// own type rather than events.S3Event, whose key decoding fails the whole
// event on one badly encoded key.
type s3Event struct {
	Records []s3Record `json:"Records"`
}

type s3Record struct {
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	S3          struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key  string `json:"key"`
			Size int64  `json:"size"`
		} `json:"object"`
	} `json:"s3"`
}

// S3Response is the handler's answer to an S3 notification.
type S3Response struct {
	Jobs    []Job         `json:"jobs"`
	Skipped []SkippedItem `json:"skipped,omitempty"`
}

// Job is one submitted AWS Batch job.
type Job struct {
	JobID     string `json:"job_id"`
	JobName   string `json:"job_name"`
	JobARN    string `json:"job_arn,omitempty"`
	Manifest  string `json:"manifest"`
	Output    string `json:"output"`
	Images    int    `json:"images"`
	ArraySize int    `json:"array_size,omitempty"`
}

// SkippedItem is a record the handler did not submit, and why.
type SkippedItem struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

func (h *Handler) handleS3(ctx context.Context, raw json.RawMessage) (*S3Response, error) {
	var ev s3Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &UnknownEventError{Received: "an S3 notification that does not parse: " + err.Error()}
	}
	resp := &S3Response{Jobs: []Job{}}
	type bucketKeys struct {
		bucket string
		keys   []string
	}
	var groups []*bucketKeys
	seen := map[string]bool{}
	skip := func(bucket, key, reason string) {
		h.log.InfoContext(ctx, "skipped S3 record", "bucket", bucket, "key", key, "reason", reason)
		resp.Skipped = append(resp.Skipped, SkippedItem{Bucket: bucket, Key: key, Reason: reason})
	}
	for _, r := range ev.Records {
		bucket, rawKey := r.S3.Bucket.Name, r.S3.Object.Key
		if r.EventSource != "aws:s3" || !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			skip(bucket, rawKey, fmt.Sprintf("event %s from %s is not an S3 ObjectCreated event", r.EventName, r.EventSource))
			continue
		}
		// S3 form-encodes keys in notifications: "+" is a space.
		key, err := url.QueryUnescape(rawKey)
		switch {
		case err != nil:
			skip(bucket, rawKey, "key is not URL-encoded as S3 encodes it: "+err.Error())
			continue
		case bucket == "" || key == "":
			skip(bucket, key, "record has no bucket or key")
			continue
		case !strings.HasPrefix(key, h.cfg.InputPrefix):
			skip(bucket, key, fmt.Sprintf("key is outside the input prefix %q", h.cfg.InputPrefix))
			continue
		case strings.HasSuffix(key, "/"):
			skip(bucket, key, "key is a folder marker")
			continue
		case !imageprep.HasImageExt(key): // the batch job checks the bytes again
			skip(bucket, key, "not an image file name (want .jpg, .jpeg, .jpe, .jfif, .png, .gif, .webp, .bmp, .tif or .tiff)")
			continue
		}
		if seen[bucket+"/"+key] {
			continue // S3 may repeat a record; the job takes each key once
		}
		seen[bucket+"/"+key] = true
		var g *bucketKeys
		for _, x := range groups {
			if x.bucket == bucket {
				g = x
			}
		}
		if g == nil {
			g = &bucketKeys{bucket: bucket}
			groups = append(groups, g)
		}
		g.keys = append(g.keys, key)
	}
	if len(groups) == 0 {
		h.log.InfoContext(ctx, "no images to submit", "records", len(ev.Records), "skipped", len(resp.Skipped))
		return resp, nil
	}
	if err := h.checkJobConfig(); err != nil {
		return nil, err
	}
	// One job per event. A notification names one bucket; should an event
	// ever carry several, each bucket gets its own job, since the job reads
	// and writes its own bucket.
	base := h.jobNameBase(ctx)
	for i, g := range groups {
		name := base
		if len(groups) > 1 {
			name = jobName(base, "-"+strconv.Itoa(i+1))
		}
		job, err := h.submit(ctx, name, g.bucket, g.keys)
		if err != nil {
			if se, ok := err.(*SubmitJobError); ok {
				se.Submitted = resp.Jobs
			}
			return nil, err
		}
		resp.Jobs = append(resp.Jobs, job)
	}
	return resp, nil
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
		return &ConfigError{Message: "S3 events submit AWS Batch jobs, which needs a " + strings.Join(missing, ", ")}
	}
	return nil
}

// jobNameBase names the event's job after the request id, so a retried
// delivery of the same event rewrites the same manifest.
func (h *Handler) jobNameBase(ctx context.Context) string {
	id := ""
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		id = lc.AwsRequestID
	}
	if id == "" {
		var b [4]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		id = time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
	}
	return jobName(h.cfg.JobNamePrefix, "-"+id)
}

// jobName returns prefix+suffix made into a valid AWS Batch job name: up
// to 128 letters, digits, hyphens and underscores, starting with a letter
// or digit. Other characters become hyphens; the prefix is shortened
// first, so the unique suffix survives.
func jobName(prefix, suffix string) string {
	const maxLen = 128
	clean := func(s string) string {
		b := []byte(s)
		for i, c := range b {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				b[i] = '-'
			}
		}
		return string(b)
	}
	prefix, suffix = clean(prefix), clean(suffix)
	if len(suffix) > maxLen-1 {
		suffix = suffix[len(suffix)-(maxLen-1):]
	}
	if len(prefix)+len(suffix) > maxLen {
		prefix = prefix[:maxLen-len(suffix)]
	}
	name := strings.TrimLeft(prefix+suffix, "-_")
	if name == "" {
		return "mlserve"
	}
	return name
}

// submit writes the manifest of keys and submits the job that reads it.
func (h *Handler) submit(ctx context.Context, name, bucket string, keys []string) (Job, error) {
	manifest := "s3://" + bucket + "/" + h.cfg.ManifestPrefix + name + ".jsonl"
	output := "s3://" + bucket + "/" + h.cfg.OutputPrefix
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, k := range keys {
		_ = enc.Encode("s3://" + bucket + "/" + k) // strings always encode
	}
	if err := h.store.WriteURL(ctx, manifest, buf.Bytes()); err != nil {
		return Job{}, &ManifestError{URI: manifest, Err: err}
	}
	in := h.jobInput(name, bucket, manifest, output, len(keys))
	out, err := h.jobs.SubmitJob(ctx, in)
	if err != nil {
		h.log.ErrorContext(ctx, "submit job failed", "job_name", name, "job_queue", h.cfg.JobQueue, "images", len(keys), "err", err)
		return Job{}, &SubmitJobError{JobName: name, JobQueue: h.cfg.JobQueue, Err: err}
	}
	job := Job{
		JobID: aws.ToString(out.JobId), JobName: name, JobARN: aws.ToString(out.JobArn),
		Manifest: manifest, Output: output, Images: len(keys),
	}
	if in.ArrayProperties != nil {
		job.ArraySize = int(aws.ToInt32(in.ArrayProperties.Size))
	}
	h.log.InfoContext(ctx, "submitted job", "job_id", job.JobID, "job_name", name, "job_queue", h.cfg.JobQueue,
		"images", job.Images, "array_size", job.ArraySize, "manifest", manifest)
	return job, nil
}

// jobInput builds the SubmitJob request. The container's entrypoint is
// the mlserve binary, so the command override is its arguments.
func (h *Handler) jobInput(name, bucket, manifest, output string, n int) *batch.SubmitJobInput {
	in := &batch.SubmitJobInput{
		JobName:       aws.String(name),
		JobQueue:      aws.String(h.cfg.JobQueue),
		JobDefinition: aws.String(h.cfg.JobDefinition),
		ContainerOverrides: &types.ContainerOverrides{
			Command: mlbatch.JobCommand(manifest, output),
		},
		RetryStrategy: &types.RetryStrategy{
			Attempts: aws.Int32(int32(h.cfg.JobAttempts)),
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
			"mlserve:trigger": "s3",
			"mlserve:bucket":  bucket,
			"mlserve:images":  strconv.Itoa(n),
		},
	}
	if n > 1 {
		shards := min(n, h.cfg.MaxShards)
		if shards >= 2 { // AWS Batch array sizes run from 2 to 10000
			in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(int32(shards))}
			in.ContainerOverrides.Environment = []types.KeyValuePair{
				{Name: aws.String("MLSERVE_SHARDS"), Value: aws.String(strconv.Itoa(shards))},
			}
		}
	}
	return in
}
