package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/lambdaadapter"
	"github.com/mlserve/mlserve/internal/s3io"
)

// processStart approximates when the process started, for the init
// duration logged once the function is ready.
var processStart = time.Now()

// lambdaOptions are the settings of `mlserve lambda`.
type lambdaOptions struct {
	IO
	modelOptions
	TopK          int
	InputPrefix   string
	OutputPrefix  string
	JobQueue      string
	JobDefinition string
	JobNamePrefix string
	SubmitOnly    bool
	Scale         scaleOptions
}

func newLambdaCmd(stdio IO) *cobra.Command {
	return newLambdaCmdWith(stdio, runLambda)
}

// newLambdaCmdWith builds the command around run, so tests can check flag
// parsing apart from running.
func newLambdaCmdWith(stdio IO, run func(context.Context, lambdaOptions) error) *cobra.Command {
	opts := lambdaOptions{IO: stdio}
	env := stdio.env()
	cmd := &cobra.Command{
		Use:   "lambda",
		Short: "Run as an AWS Lambda function",
		Long: `Run as an AWS Lambda function (aws-lambda-go is the runtime client). The
binary also picks this mode by itself when AWS_LAMBDA_RUNTIME_API is set and
it has no arguments, so it works as bootstrap on provided.al2023 and as the
entrypoint of a container image.

The model loads once, before the first event. The event's shape decides
what happens:
  API Gateway (REST or HTTP API) or Function URL, POST /predict
      the body is one image (base64 or raw), or JSON {"image": "<base64>"}
      or {"images": [...]} as for serve; the answer is the JSON result (a
      list for "images"), or {"error": {"code", "message"}}: the same
      statuses, codes and bodies as serve's POST /predict.
  S3 ObjectCreated:* for keys under the input prefix, directly or as SQS
  messages (a batching window of them; answered with batchItemFailures)
      writes the window's keys to one manifest (manifests/<job>.jsonl) and
      submits one AWS Batch job (an array job of ceil(images / images per
      child) children) running "batch --manifest ... --output ..."; a window
      of at most --direct-max images is classified in the function itself.
  {"sweep": {"prefix": "input/"}}
      submits one job for the images under the prefix without a result.
  {"s3_uri": "s3://bucket/key"}, {"image": "<base64>"} or {"images": [...]}
      classifies and answers the result ({"results": [...]} for "images").
Anything else fails with UnknownEventError. Logs are JSON or text per
AWS_LAMBDA_LOG_FORMAT, with the request id.`,
		Example: `  # run under the Lambda Runtime Interface Emulator
  $ MLSERVE_MODEL=/models/resnet50-v1-12.onnx aws-lambda-rie --runtime-interface-emulator-address 127.0.0.1:9000 mlserve lambda

  # classify through it
  $ base64 -w0 photo.jpg | jq -Rc '{image: .}' | curl -s -d @- http://127.0.0.1:9000/2015-03-31/functions/function/invocations`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("lambda takes no arguments, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := api.CheckTopK(opts.TopK); err != nil {
				return usageErrorf("--top-k: %w", err)
			}
			if err := opts.Scale.check(); err != nil {
				return err
			}
			return run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	opts.modelOptions.addFlags(fs, env)
	fs.IntVarP(&opts.TopK, "top-k", "k", env.TopK, "classes per image when the event does not say (env MLSERVE_TOP_K)")
	fs.StringVar(&opts.InputPrefix, "input-prefix", env.InputPrefix, "S3 key prefix whose uploads submit batch jobs (env MLSERVE_INPUT_PREFIX)")
	fs.StringVar(&opts.OutputPrefix, "output-prefix", env.OutputPrefix, "S3 key prefix the submitted jobs write to (env MLSERVE_OUTPUT_PREFIX)")
	fs.StringVar(&opts.JobQueue, "job-queue", env.JobQueue, "AWS Batch job queue (env MLSERVE_JOB_QUEUE)")
	fs.StringVar(&opts.JobDefinition, "job-definition", env.JobDefinition, "AWS Batch job definition (env MLSERVE_JOB_DEFINITION)")
	fs.StringVar(&opts.JobNamePrefix, "job-name-prefix", env.JobNamePrefix, "prefix of submitted job names (env MLSERVE_JOB_NAME_PREFIX)")
	fs.BoolVar(&opts.SubmitOnly, "submit-only", env.SubmitOnly, "only submit Batch jobs for S3 uploads: load no model (env MLSERVE_SUBMIT_ONLY)")
	opts.Scale.addFlags(fs, env)
	return cmd
}

// runLambda loads the model, then serves events until the runtime stops
// the process (SIGTERM cancels ctx; runLambda then returns nil).
func runLambda(ctx context.Context, o lambdaOptions) error {
	if !o.env().OnLambda() {
		return usageErrorf("lambda: AWS_LAMBDA_RUNTIME_API is not set: run this under AWS Lambda or aws-lambda-rie")
	}
	log := slog.New(lambdacontext.NewLogHandler())
	slog.SetDefault(log)

	// Init: everything costly happens once, before the first event. A
	// function that only submits Batch jobs needs no model.
	start := time.Now()
	var clf lambdaadapter.Classifier
	info := infer.ModelInfo{Name: "none (submit only)"}
	if !o.SubmitOnly {
		c, err := loadClassifier(ctx, o.modelOptions, o.IO, false)
		if err != nil {
			log.ErrorContext(ctx, "load model", "err", err)
			return fmt.Errorf("lambda: %w", err)
		}
		clf, info = c, c.Info()
	}
	loaded := time.Since(start)
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(awshttp.NewBuildableClient()))
	if err != nil {
		return fmt.Errorf("lambda: aws config: %w", err)
	}
	uploads, err := uploadsFrom(ctx, o.env())
	if err != nil {
		return fmt.Errorf("lambda: %w", err)
	}
	h := lambdaadapter.New(lambdaadapter.Config{
		Uploads:       uploads,
		TopK:          o.TopK,
		InputPrefix:   o.InputPrefix,
		OutputPrefix:  o.OutputPrefix,
		JobQueue:      o.JobQueue,
		JobDefinition: o.JobDefinition,
		JobNamePrefix: o.JobNamePrefix,
		DecodeBudget:  decodeBudget(ctx, log, o.env()),
		Scale:         o.Scale.config(ctx, clf, o.modelOptions, o.IO),
	}, clf, batch.NewFromConfig(awsCfg), s3Objects{}, log)
	log.InfoContext(ctx, "lambda ready", "submit_only", o.SubmitOnly,
		"model", info.Name, "sha256", info.SHA256, "classes", info.Classes,
		"load_ms", loaded.Milliseconds(), "init_ms", time.Since(processStart).Milliseconds(),
		"top_k", o.TopK, "input_prefix", o.InputPrefix, "output_prefix", o.OutputPrefix,
		"job_queue", o.JobQueue, "job_definition", o.JobDefinition, "job_name_prefix", o.JobNamePrefix,
		"images_per_child", o.Scale.ImagesPerChild, "direct_max", o.Scale.DirectMax, "bucket", o.Scale.Bucket,
		"max_concurrency", lambdacontext.MaxConcurrency(), "version", Version, "env", o.env())

	// lambda.StartWithOptions never returns: it exits the process itself
	// when the runtime API goes away. SIGTERM (sent when the environment
	// shuts down, once an extension is registered) cancels ctx.
	go lambda.StartWithOptions(h.Invoke,
		lambda.WithContext(ctx),
		lambda.WithEnableSIGTERM(func() { log.Info("SIGTERM: shutting down") }),
	)
	<-ctx.Done()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// s3Objects reads and writes objects through s3io.
type s3Objects struct{}

func (s3Objects) ReadURL(ctx context.Context, uri string) (io.ReadCloser, error) {
	return s3io.ReadURL(ctx, uri)
}

func (s3Objects) WriteURL(ctx context.Context, uri string, data []byte) error {
	return s3io.WriteURL(ctx, uri, data)
}

var _ lambdaadapter.ObjectStore = s3Objects{}
