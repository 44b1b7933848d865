package batch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/mlserve/mlserve/internal/s3io"
)

// JobsDir is the folder of the output prefix that holds each job's
// aggregate records: <output>/_jobs/<job>/.
const JobsDir = "_jobs/"

// JobPrefix is the key prefix, in the output store, of a job's records.
func JobPrefix(job string) string { return JobsDir + job + "/" }

// JobSummaryKey is the key, relative to the output, of a job's summary.
func JobSummaryKey(job string) string { return JobPrefix(job) + "summary.json" }

// DefaultJob names a job that was given no name: "run-" and a hash of its
// inputs and shard count, the same for every shard and for a rerun.
func DefaultJob(cfg Config) string {
	h := sha256.New()
	for _, s := range []string{cfg.Input, cfg.Manifest, strings.Join(cfg.Inputs, "\n"), strconv.Itoa(cfg.Shards)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "run-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// CheckJob refuses a job name that is not one folder name.
func CheckJob(job string) error {
	if job == "" || job == "." || job == ".." || len(job) > 255 {
		return fmt.Errorf("job %q: want 1 to 255 characters, not . or ..", job)
	}
	for _, c := range job {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return fmt.Errorf("job %q: want letters, digits and - _ . : only", job)
		}
	}
	return nil
}

// JobSummary is <output>/_jobs/<job>/summary.json: the whole job, written
// once every shard has written its summary-<shard>.json. Images =
// Succeeded + Failed + Abandoned; Skipped counts the images of Succeeded
// and Failed that already had an output from the same source.
type JobSummary struct {
	Job      string `json:"job"`
	Model    string `json:"model"`
	Input    string `json:"input"`
	Output   string `json:"output"`
	Shards   int    `json:"shards"`
	Complete bool   `json:"complete"` // no shard was interrupted or abandoned inputs

	Images    int `json:"images"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	Abandoned int `json:"abandoned"`

	// Where the records are: the per-image outputs are <Output><key>.json.
	Results   []string `json:"results"`
	Failures  []string `json:"failures"`
	CSV       []string `json:"csv,omitempty"`
	Summaries []string `json:"summaries"`

	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
}

// prefixed is a store seen under a key prefix.
type prefixed struct {
	s3io.Store
	dir string
}

func (p prefixed) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return p.Store.Put(ctx, p.dir+key, r, size)
}

// writeJobSummary writes the job summary when every shard's summary is in.
// Shards finishing together may both write it; its content depends only on
// the shard summaries, so they write the same bytes.
func writeJobSummary(ctx context.Context, out s3io.Store, cfg Config, log *slog.Logger) error {
	dir := JobPrefix(cfg.Job)
	sums := make([]*Summary, cfg.Shards)
	found := 0
	err := out.List(ctx, dir+"summary-", func(o s3io.Object) error {
		n, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, dir+"summary-"), ".json")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 0 || i >= cfg.Shards {
			return nil // another shard count's file, not this job's
		}
		rc, _, err := out.Open(ctx, o.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		var s Summary
		if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&s); err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
		if s.Shards == cfg.Shards && sums[i] == nil {
			sums[i] = &s
			found++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("job summary: %w", err)
	}
	if found < cfg.Shards {
		log.InfoContext(ctx, "batch: job summary waits for other shards", "job", cfg.Job, "shards_reported", found, "shards", cfg.Shards)
		return nil
	}
	js := jobSummary(cfg, sums)
	data, err := json.MarshalIndent(js, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := out.Put(ctx, JobSummaryKey(cfg.Job), bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("write job summary: %w", err)
	}
	log.InfoContext(ctx, "batch: job summary", "job", cfg.Job, "summary", s3io.JoinURL(cfg.Output, JobSummaryKey(cfg.Job)),
		"images", js.Images, "succeeded", js.Succeeded, "failed", js.Failed, "skipped", js.Skipped, "complete", js.Complete)
	return nil
}

func jobSummary(cfg Config, sums []*Summary) JobSummary {
	base := s3io.JoinURL(cfg.Output, JobPrefix(cfg.Job))
	js := JobSummary{Job: cfg.Job, Output: cfg.Output, Shards: cfg.Shards, Complete: true}
	for i, s := range sums {
		sfx := strconv.Itoa(i)
		js.Model, js.Input = s.Model, s.Input
		js.Succeeded += s.Succeeded
		js.Failed += s.Failed
		js.Skipped += s.Skipped
		js.Abandoned += s.Abandoned
		if s.Interrupted || s.Abandoned > 0 {
			js.Complete = false
		}
		js.Results = append(js.Results, base+"results-"+sfx+".jsonl")
		js.Failures = append(js.Failures, base+"failures-"+sfx+".jsonl")
		if cfg.CSV {
			js.CSV = append(js.CSV, base+"results-"+sfx+".csv")
		}
		js.Summaries = append(js.Summaries, base+"summary-"+sfx+".json")
		if js.Started.IsZero() || s.Started.Before(js.Started) {
			js.Started = s.Started
		}
		if s.Ended.After(js.Ended) {
			js.Ended = s.Ended
		}
	}
	js.Images = js.Succeeded + js.Failed + js.Abandoned
	return js
}
