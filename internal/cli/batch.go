package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/tty"
)

// batchOptions are the flags of `mlserve batch`.
type batchOptions struct {
	IO
	modelOptions
	Input, Output, Manifest string
	Job                     string
	Shard, Shards           int
	BatchSize, TopK         int
	Format                  string
	Force                   bool
	MaxFailures             string
	Concurrency             int
	ProgressEvery           time.Duration
	Grace                   time.Duration
	LogFormat, LogLevel     string
}

func newBatchCmd(stdio IO) *cobra.Command {
	opts := batchOptions{IO: stdio}
	env := stdio.env()
	cmd := &cobra.Command{
		Use:   "batch --input <prefix> --output <prefix>",
		Short: "Classify every image under a prefix, resumably, in shards",
		Long: `Classify every image under an input prefix (or listed in a manifest) and write
one result file per input, <output>/<key relative to the input>.json, holding
the result schema plus the source URI, size and ETag. Each shard also writes
results-<shard>.jsonl, failures-<shard>.jsonl and summary-<shard>.json (and
results-<shard>.csv with --format csv) under <output>/_jobs/<job>/, and the
last shard to finish writes the job's summary.json there (images, succeeded,
failed, skipped, and where the records are). The job is --job, else the AWS
Batch job id, else a name made from the inputs and shard count (so a rerun
of the same command resumes the same job).

Prefixes are s3://bucket/prefix/ or local folders. S3 uses the AWS SDK's
standard configuration (AWS_REGION, credentials, AWS_ENDPOINT_URL_S3).

Only images are taken: by file extension, then by their first bytes; anything
else gets a failure record (not_an_image). Re-running skips every input whose
output was made from the same source ETag (--force redoes them), so a run that
was stopped or killed finishes the rest when run again.

In an AWS Batch array job each child takes the inputs whose key hashes to its
AWS_BATCH_JOB_ARRAY_INDEX out of MLSERVE_SHARDS (or --shard of --shards).

Exit status: 0 done; 1 more failures than --max-failures (or a run error);
2 usage; 3 interrupted by SIGTERM or SIGINT (in-flight work is finished and
recorded; re-running resumes).`,
		Example: `  # every image under an S3 prefix
  $ mlserve batch --input s3://my-bucket/input/ --output s3://my-bucket/output/

  # local folders, CSV too, allowing 1% bad images
  $ mlserve batch --input ./photos --output ./results --format csv --max-failures 1%

  # shard 2 of 4 of the inputs listed in a manifest
  $ mlserve batch --manifest s3://b/manifests/job.json --output s3://b/output/ --shard 2 --shards 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := opts.config(os.Getenv)
			if err != nil {
				return err
			}
			return runBatch(cmd.Context(), opts, cfg)
		},
	}
	f := cmd.Flags()
	opts.modelOptions.addFlags(f, env)
	f.StringVar(&opts.Input, batch.FlagInput, "", "input prefix: s3://bucket/prefix/ or a folder")
	f.StringVar(&opts.Output, batch.FlagOutput, "", "output prefix: s3://bucket/prefix/ or a folder")
	f.StringVar(&opts.Job, batch.FlagJob, "", "job name: records go under <output>/_jobs/<job>/ (default $AWS_BATCH_JOB_ID, else run-<hash of the inputs>)")
	f.StringVar(&opts.Manifest, batch.FlagManifest, "", `URI of a list of inputs: JSON Lines of URIs, or [{"prefix": "s3://b/p/"}, "key", ...]`)
	f.IntVar(&opts.Shard, "shard", -1, "this process's shard, 0 to --shards-1 (default $AWS_BATCH_JOB_ARRAY_INDEX, else 0)")
	f.IntVar(&opts.Shards, "shards", env.Shards, "number of shards (env MLSERVE_SHARDS; default 1)")
	f.IntVar(&opts.BatchSize, "batch-size", 8, "images per engine batch")
	f.IntVarP(&opts.TopK, "top-k", "k", env.TopK, "number of classes per image, 1 to 1000 (env MLSERVE_TOP_K)")
	f.StringVar(&opts.Format, "format", "jsonl", "shard records: jsonl, or csv for results-<shard>.csv as well")
	f.BoolVar(&opts.Force, "force", false, "redo inputs that already have an output")
	f.StringVar(&opts.MaxFailures, "max-failures", "0", "failures allowed before exit status 1: a count (10) or a percentage (2.5%)")
	f.IntVar(&opts.Concurrency, "concurrency", 8, "concurrent downloads and uploads")
	f.DurationVar(&opts.ProgressEvery, "progress-interval", 10*time.Second, "log progress this often when stderr is not a terminal")
	f.DurationVar(&opts.Grace, "grace", 90*time.Second, "after SIGTERM, how long in-flight inputs may take before they are abandoned")
	f.StringVar(&opts.LogFormat, "log-format", env.LogFormat, "log format: text or json (env MLSERVE_LOG_FORMAT)")
	f.StringVar(&opts.LogLevel, "log-level", env.LogLevel, "log level: debug, info, warn, error (env MLSERVE_LOG_LEVEL)")
	return cmd
}

// config checks the flags and resolves the shard from the flags or, for an
// AWS Batch array job, from the environment (getenv).
func (o *batchOptions) config(getenv func(string) string) (batch.Config, error) {
	cfg := batch.Config{
		Input: o.Input, Output: o.Output, Manifest: o.Manifest, Job: o.Job,
		BatchSize: o.BatchSize, TopK: o.TopK, Force: o.Force,
		Fetchers: o.Concurrency, Uploaders: o.Concurrency,
		ProgressEvery: o.ProgressEvery, Grace: o.Grace,
	}
	switch {
	case o.Output == "":
		return cfg, usageErrorf("--output is required")
	case o.Input == "" && o.Manifest == "":
		return cfg, usageErrorf("--input or --manifest is required")
	case o.BatchSize < 1:
		return cfg, usageErrorf("--batch-size %d: want at least 1", o.BatchSize)
	case api.CheckTopK(o.TopK) != nil:
		return cfg, usageErrorf("--top-k: %w", api.CheckTopK(o.TopK))
	case o.Concurrency < 1:
		return cfg, usageErrorf("--concurrency %d: want at least 1", o.Concurrency)
	case o.Grace <= 0:
		return cfg, usageErrorf("--grace %s: want more than 0", o.Grace)
	case o.MaxPixels < 0:
		return cfg, usageErrorf("--max-pixels %d: want 0 (the default) or more", o.MaxPixels)
	}
	switch o.Format {
	case "jsonl":
	case "csv":
		cfg.CSV = true
	default:
		return cfg, usageErrorf("--format %q: want jsonl or csv", o.Format)
	}
	var err error
	if cfg.MaxFailures, err = batch.ParseThreshold(o.MaxFailures); err != nil {
		return cfg, usageErrorf("--max-failures: %w", err)
	}
	if cfg.Job == "" {
		// An array child's id is "<parent id>:<index>": every child of
		// the job shares the parent's folder.
		cfg.Job, _, _ = strings.Cut(getenv("AWS_BATCH_JOB_ID"), ":")
	}
	if cfg.Shard, cfg.Shards, err = resolveShard(o.Shard, o.Shards, getenv); err != nil {
		return cfg, &UsageError{Err: err}
	}
	if _, err := serveLogger(io.Discard, o.LogFormat, o.LogLevel); err != nil {
		return cfg, &UsageError{Err: err}
	}
	if err := cfg.Check(); err != nil {
		return cfg, &UsageError{Err: err}
	}
	return cfg, nil
}

// resolveShard picks this process's shard: flags first, then
// AWS_BATCH_JOB_ARRAY_INDEX; shards comes from --shards or MLSERVE_SHARDS
// (Batch does not tell a child the array size, so it is passed
// explicitly); without either, 0 of 1.
func resolveShard(shard, shards int, getenv func(string) string) (int, int, error) {
	if shards <= 0 {
		shards = 1
	}
	if shard < 0 {
		s := getenv("AWS_BATCH_JOB_ARRAY_INDEX")
		switch {
		case s != "":
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return 0, 0, fmt.Errorf("AWS_BATCH_JOB_ARRAY_INDEX=%q: want a non-negative integer", s)
			}
			shard = n
		case shards > 1:
			return 0, 0, fmt.Errorf("%d shards but no shard: set --shard or AWS_BATCH_JOB_ARRAY_INDEX", shards)
		default:
			shard = 0
		}
	}
	if shard >= shards {
		return 0, 0, fmt.Errorf("shard %d out of range for %d shards (set --shards or MLSERVE_SHARDS to the array size)", shard, shards)
	}
	return shard, shards, nil
}

func runBatch(ctx context.Context, opts batchOptions, cfg batch.Config) error {
	log, err := serveLogger(opts.Err, opts.LogFormat, opts.LogLevel)
	if err != nil {
		return &UsageError{Err: err}
	}
	cfg.Log = log
	cfg.Progress = opts.Err
	cfg.Terminal = tty.Is(opts.Err)
	log.InfoContext(ctx, "batch: start", "input", cfg.Input, "manifest", cfg.Manifest, "output", cfg.Output,
		"shard", cfg.Shard, "shards", cfg.Shards, "batch_size", cfg.BatchSize, "top_k", cfg.TopK,
		"format", opts.Format, "force", cfg.Force, "max_failures", cfg.MaxFailures.String(),
		"concurrency", opts.Concurrency, "model", opts.modelName(), "env", opts.env())
	c, err := loadClassifier(ctx, opts.modelOptions.throughput(), opts.IO, false)
	if err != nil {
		if ctx.Err() != nil {
			return &InterruptedError{Err: fmt.Errorf("batch: interrupted while loading the model: %w", err)}
		}
		return fmt.Errorf("load model: %w", err)
	}
	_, err = batch.Run(ctx, c, cfg)
	if errors.Is(err, batch.ErrInterrupted) {
		return fmt.Errorf("%w (re-run to resume)", err) // exit 3 (root's table)
	}
	return err // *batch.UsageError: exit 2, *batch.FailuresError: 1
}
