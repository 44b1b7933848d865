// Command localaws runs the local stack's stand-ins for S3 event
// notifications to Lambda and for AWS Batch on one 127.0.0.1 port (see
// package localaws and scripts/local-stack.sh):
//
//	POST /s3-events            versitygw's event webhook; relayed to the Lambda RIE
//	POST /v1/submitjob         AWS Batch SubmitJob (AWS_ENDPOINT_URL_BATCH)
//	POST /v1/describejobs      AWS Batch DescribeJobs
//	GET  /local/jobs           every SubmitJob call and its runs
//	GET  /local/invocations    every relayed event and the function's answer
//	GET  /local/windows        with --sqs-endpoint: every window the poller invoked
//	POST /local/faults         inject SubmitJob throttling/refusals, SIGKILL a child
//
// With --sqs-endpoint (goaws), events go to the SQS queue --sqs-queue (as
// --message-body: compact {"bucket","key"} bodies, as the deployed
// EventBridge rule writes, or S3 notifications) and a local event source
// mapping polls it into the function (batching window --window, up to
// --batch-size messages or 6 MB, ReportBatchItemFailures).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mlserve/mlserve/internal/shiptest/localaws"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "localaws: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address")
	invoke := flag.String("invoke-url", "http://127.0.0.1:9000/2015-03-31/functions/function/invocations", "Lambda RIE invocation URL")
	prefix := flag.String("prefix", "input/", "notification filter: key prefix whose ObjectCreated events invoke the function")
	queue := flag.String("queue", "mlserve-local", "job queue name")
	def := flag.String("job-definition", "mlserve-local", "job definition name")
	command := flag.String("job-command", "batch --manifest Ref::manifest --output Ref::output", "job definition command (space separated)")
	attempts := flag.Int("attempts", 3, "job definition retry attempts")
	mlserve := flag.String("mlserve", "mlserve", "the program jobs run (the image's entrypoint)")
	region := flag.String("region", "us-east-1", "region in ARNs")
	sqsEndpoint := flag.String("sqs-endpoint", "", "goaws endpoint: S3 events go through its queue (default: invoke the function directly)")
	sqsQueue := flag.String("sqs-queue", "mlserve-uploads", "queue the bucket notification targets")
	window := flag.Duration("window", 30*time.Second, "event source mapping batching window")
	batchSize := flag.Int("batch-size", 10000, "event source mapping batch size")
	body := flag.String("message-body", "compact", `with --sqs-endpoint, what a message holds: "compact" ({"bucket","key"}, as the deployed EventBridge rule writes) or "s3" (an S3 notification, as a bucket notification writes)`)
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "localaws")
	relay := &localaws.Relay{Prefix: *prefix, InvokeURL: *invoke, Log: log}
	batch := &localaws.Batch{
		Region: *region, Account: "000000000000",
		Queue: *queue, Definition: *def,
		Command:  strings.Fields(*command),
		Attempts: *attempts,
		// The same rules as the CDK job definition (deploy/stack).
		EvaluateOnExit: []localaws.ExitRule{
			{OnStatusReason: "Host EC2*", Action: "RETRY"},
			{OnExitCode: "3", Action: "RETRY"},
			{OnExitCode: "1", Action: "EXIT"},
			{OnExitCode: "2", Action: "EXIT"},
		},
		Exec: *mlserve,
		Log:  log,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var poller *localaws.Poller
	if *body != "compact" && *body != "s3" {
		return fmt.Errorf("--message-body %q: want compact or s3", *body)
	}
	relay.Compact = *body == "compact"
	if *sqsEndpoint != "" {
		q := &localaws.SQS{Endpoint: *sqsEndpoint}
		var url string
		var err error
		for range 100 { // goaws may still be starting
			if url, err = q.QueueURL(ctx, *sqsQueue); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return err
		}
		relay.SQS, relay.QueueURL = q, url
		poller = &localaws.Poller{SQS: q, QueueURL: url, QueueARN: "arn:aws:sqs:" + *region + ":000000000000:" + *sqsQueue,
			InvokeURL: *invoke, Window: *window, BatchSize: *batchSize, Log: log}
	}
	mux := http.NewServeMux()
	if poller != nil {
		mux.HandleFunc("GET /local/windows", poller.ServeWindows)
	}
	mux.Handle("POST /s3-events", relay)
	mux.HandleFunc("GET /local/invocations", relay.ServeInvocations)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.Handle("/", batch.Handler())

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go relay.Run(ctx)
	go batch.Run(ctx)
	if poller != nil {
		go poller.Run(ctx)
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("listening", "addr", ln.Addr().String(), "job_queue", batch.QueueARN(), "job_definition", batch.DefinitionARN())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
