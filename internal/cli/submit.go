package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/spf13/cobra"

	batchrun "github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/s3io"
	"github.com/mlserve/mlserve/internal/submit"
)

// submitOptions are the flags of `mlserve submit`.
type submitOptions struct {
	IO
	Input, Manifest              string
	All, DryRun                  bool
	OutputPrefix, ManifestPrefix string
	JobQueue, JobDefinition      string
	JobNamePrefix                string
	ImagesPerChild               int
}

// submitDeps are what runSubmit talks to; tests replace them.
type submitDeps struct {
	jobs  submit.JobSubmitter
	open  func(ctx context.Context, url string) (s3io.Store, error)
	write submit.ObjectWriter
	now   func() time.Time
}

func newSubmitCmd(stdio IO) *cobra.Command {
	opts := submitOptions{IO: stdio}
	env := stdio.env()
	cmd := &cobra.Command{
		Use:   "submit (--input s3://bucket/input/ | --manifest s3://bucket/manifests/m.jsonl)",
		Short: "Submit one AWS Batch job by hand: backfill a prefix or rerun a manifest",
		Long: `Submit one AWS Batch job, as the Lambda submitter does for a window of
uploads: an array job of ceil(images / --images-per-child) children, or a
plain job when one child suffices, retried with backoff when AWS Batch
throttles.

--input s3://bucket/input/ lists the prefix and the output prefix and submits
the images that have no result yet (or whose result is older than the
upload): the way to backfill uploads made before the stack existed, or to
catch up after messages ended in the dead-letter queue (--all submits a job
that lists the whole prefix instead; the batch job's ETag check still skips
what is done). --manifest submits a job over an existing manifest (JSON
Lines of s3:// URIs, for example one under manifests/).

The job writes per-image results to s3://<bucket>/<output prefix><key>.json
and its records and summary under <output prefix>_jobs/<job id>/. The
submitted job is printed as JSON.`,
		Example: `  # classify everything under input/ that has no result yet
  $ mlserve submit --input s3://my-bucket/input/ --job-queue mlserve --job-definition mlserve-batch

  # see the job it would submit, without submitting it
  $ mlserve submit --input s3://my-bucket/input/ --dry-run

  # rerun the job of one Lambda window
  $ mlserve submit --manifest s3://my-bucket/manifests/mlserve-<request-id>.jsonl --input s3://my-bucket/input/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.check(); err != nil {
				return err
			}
			deps, err := awsSubmitDeps(cmd.Context())
			if err != nil {
				return err
			}
			return runSubmit(cmd.Context(), opts, deps)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Input, "input", "", "input prefix, s3://bucket/input/: submit its images without a result")
	f.StringVar(&opts.Manifest, "manifest", "", "manifest to submit a job for (JSON Lines of s3:// URIs)")
	f.BoolVar(&opts.All, "all", false, "with --input: one job over the whole prefix, not only images without a result")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the job that would be submitted; write and submit nothing")
	f.StringVar(&opts.OutputPrefix, "output-prefix", env.OutputPrefix, "key prefix the job writes to (env MLSERVE_OUTPUT_PREFIX)")
	f.StringVar(&opts.ManifestPrefix, "manifest-prefix", "manifests/", "key prefix of the manifest written for --input")
	f.StringVar(&opts.JobQueue, "job-queue", env.JobQueue, "AWS Batch job queue (env MLSERVE_JOB_QUEUE)")
	f.StringVar(&opts.JobDefinition, "job-definition", env.JobDefinition, "AWS Batch job definition (env MLSERVE_JOB_DEFINITION)")
	f.StringVar(&opts.JobNamePrefix, "job-name-prefix", env.JobNamePrefix, "prefix of the job name (env MLSERVE_JOB_NAME_PREFIX)")
	f.IntVar(&opts.ImagesPerChild, "images-per-child", env.ImagesPerChild, "images per array child (env MLSERVE_IMAGES_PER_CHILD)")
	return cmd
}

func (o *submitOptions) check() error {
	switch {
	case o.Input == "" && o.Manifest == "":
		return usageErrorf("--input or --manifest is required")
	case o.Input != "" && !strings.HasPrefix(o.Input, "s3://"):
		return usageErrorf("--input %q: want s3://bucket/prefix/ (AWS Batch jobs read S3)", o.Input)
	case o.Manifest != "" && !strings.HasPrefix(o.Manifest, "s3://"):
		return usageErrorf("--manifest %q: want s3://bucket/key", o.Manifest)
	case o.All && (o.Input == "" || o.Manifest != ""):
		return usageErrorf("--all goes with --input alone")
	case o.ImagesPerChild < 1:
		return usageErrorf("--images-per-child %d: want at least 1", o.ImagesPerChild)
	case !o.DryRun && (o.JobQueue == "" || o.JobDefinition == ""):
		return usageErrorf("--job-queue and --job-definition are required (or MLSERVE_JOB_QUEUE and MLSERVE_JOB_DEFINITION)")
	}
	if o.Input != "" && !strings.HasSuffix(o.Input, "/") {
		o.Input += "/"
	}
	return nil
}

func awsSubmitDeps(ctx context.Context) (submitDeps, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(awshttp.NewBuildableClient()))
	if err != nil {
		return submitDeps{}, fmt.Errorf("submit: aws config: %w", err)
	}
	return submitDeps{jobs: awsbatch.NewFromConfig(cfg), open: s3io.Open, write: s3Objects{}, now: time.Now}, nil
}

// splitS3 returns the bucket and key of s3://bucket/key.
func splitS3(uri string) (bucket, key string) {
	bucket, key, _ = strings.Cut(strings.TrimPrefix(uri, "s3://"), "/")
	return bucket, key
}

func runSubmit(ctx context.Context, o submitOptions, d submitDeps) error {
	log, _ := serveLogger(o.Err, "text", "info")
	s := submit.New(submit.Config{
		JobQueue: o.JobQueue, JobDefinition: o.JobDefinition, JobNamePrefix: o.JobNamePrefix,
		ManifestPrefix: o.ManifestPrefix, OutputPrefix: o.OutputPrefix, ImagesPerChild: o.ImagesPerChild,
		Trigger: "manual",
	}, d.jobs, d.write, log)
	name := submit.JobName(s.Config().JobNamePrefix, submit.UniqueSuffix(d.now()))
	plan := map[string]any{"job_name": name, "dry_run": true}
	var job submit.Job
	var err error
	switch {
	case o.Manifest != "":
		bucket, _ := splitS3(o.Manifest)
		n, cerr := countManifest(ctx, d, o.Manifest)
		if cerr != nil {
			return cerr
		}
		plan["manifest"], plan["images"], plan["array_size"] = o.Manifest, n, arraySize(s, n)
		if o.DryRun {
			break
		}
		job, err = s.Manifest(ctx, name, bucket, o.Manifest, o.Input, n)
	case o.All:
		bucket, _ := splitS3(o.Input)
		plan["input"] = o.Input
		if o.DryRun {
			break
		}
		job, err = s.Prefix(ctx, name, bucket, o.Input, 0)
	default:
		bucket, prefix := splitS3(o.Input)
		store, oerr := d.open(ctx, "s3://"+bucket+"/")
		if oerr != nil {
			return oerr
		}
		keys, merr := submit.Missing(ctx, store, prefix, s.Config().OutputPrefix)
		if merr != nil {
			return merr
		}
		plan["input"], plan["images"], plan["array_size"] = o.Input, len(keys), arraySize(s, len(keys))
		if len(keys) == 0 {
			fmt.Fprintf(o.Err, "every image under %s has a result: nothing to submit\n", o.Input)
			return writeJSONLine(o.Out, map[string]any{"input": o.Input, "images": 0})
		}
		if o.DryRun {
			break
		}
		job, err = s.Keys(ctx, name, bucket, prefix, keys)
	}
	if o.DryRun {
		return writeJSONLine(o.Out, plan)
	}
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	return writeJSONLine(o.Out, job)
}

func arraySize(s *submit.Submitter, n int) int {
	if c := s.Children(n); c > 1 {
		return c
	}
	return 0
}

func countManifest(ctx context.Context, d submitDeps, uri string) (int, error) {
	parent, key, err := s3io.Split(uri)
	if err != nil {
		return 0, &UsageError{Err: err}
	}
	store, err := d.open(ctx, parent)
	if err != nil {
		return 0, err
	}
	rc, _, err := store.Open(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("manifest %s: %w", uri, err)
	}
	defer rc.Close()
	m, err := batchrun.ParseManifest(rc)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", uri, err)
	}
	return len(m.Entries), nil
}

func writeJSONLine(w interface{ Write([]byte) (int, error) }, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
