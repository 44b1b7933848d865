#!/usr/bin/env bash
# local-stack.sh: the system of docker-compose.yml without Docker, every
# process on 127.0.0.1 (run it with `make local-stack`; Ctrl-C stops it):
#
#   versitygw       S3 (posix backend in $LOCAL_STACK_DIR/s3; bucket "mlserve"),
#                   posting S3 event records to localaws's webhook
#   goaws           SQS (query protocol): the uploads queue, with a dead-letter
#                   queue after MAX_RECEIVE_COUNT receives
#   localaws        puts ObjectCreated events under input/ on the queue, polls it
#                   into the Lambda RIE like an event source mapping (batching
#                   window WINDOW, ReportBatchItemFailures), and stands in for
#                   AWS Batch: SubmitJob runs `mlserve batch` (each array child
#                   with its AWS_BATCH_JOB_ARRAY_INDEX)
#   aws-lambda-rie  runs `mlserve lambda` (the submitter)
#   mlserve serve   the HTTP server
#
# Upload images to s3://mlserve/input/ and the results appear under output/:
# upload -> S3 event -> SQS -> Lambda (one window) -> SubmitJob -> mlserve batch -> output/.
#
# Needs versitygw and aws-lambda-rie on PATH (or VERSITYGW, AWS_LAMBDA_RIE):
#   go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
#   go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
#   go install github.com/Admiral-Piett/goaws/app/cmd@v0.4.5   (the binary is named cmd; or GOAWS)
# MLSERVE and LOCALAWS name prebuilt binaries (default: built here).
# State lives in $LOCAL_STACK_DIR (default bin/local-stack).
# MLSERVE_MODEL picks the model (default: the cached resnet50-v1-12, see
# `mlserve model pull`). Ports: S3_PORT, LAMBDA_PORT, RUNTIME_API_PORT,
# AWS_PORT, SERVE_PORT, SQS_PORT. The submitter: WINDOW (5s), VISIBILITY_TIMEOUT
# (30 s), MAX_RECEIVE_COUNT (3), MLSERVE_IMAGES_PER_CHILD, MLSERVE_DIRECT_MAX.
# MESSAGE_BODY: compact ({"bucket","key"}, as the deployed EventBridge rule
# writes; the default) or s3 (S3 notifications, as a bucket notification).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${LOCAL_STACK_DIR:-$root/bin/local-stack}
S3_PORT=${S3_PORT:-7070}
LAMBDA_PORT=${LAMBDA_PORT:-9000}
RUNTIME_API_PORT=${RUNTIME_API_PORT:-9001}
AWS_PORT=${AWS_PORT:-9100}
SERVE_PORT=${SERVE_PORT:-8080}
SQS_PORT=${SQS_PORT:-9324}
WINDOW=${WINDOW:-5s}
VISIBILITY_TIMEOUT=${VISIBILITY_TIMEOUT:-30}
MAX_RECEIVE_COUNT=${MAX_RECEIVE_COUNT:-3}
MESSAGE_BODY=${MESSAGE_BODY:-compact}
GOAWS=${GOAWS:-cmd}
BUCKET=mlserve
VERSITYGW=${VERSITYGW:-versitygw}
AWS_LAMBDA_RIE=${AWS_LAMBDA_RIE:-aws-lambda-rie}

need() {
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "local-stack: $1 not found; install it with: go install $2" >&2
		exit 1
	fi
}
need "$VERSITYGW" github.com/versity/versitygw/cmd/versitygw@v1.8.0
need "$AWS_LAMBDA_RIE" github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
need "$GOAWS" github.com/Admiral-Piett/goaws/app/cmd@v0.4.5
need curl "(curl: apt-get install curl)"

mkdir -p "$dir/bin" "$dir/logs" "$dir/s3/$BUCKET"
if [ -z "${MLSERVE:-}" ]; then
	MLSERVE=$dir/bin/mlserve
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$MLSERVE" ./cmd/mlserve)
fi
if [ -z "${LOCALAWS:-}" ]; then
	LOCALAWS=$dir/bin/localaws
	(cd "$root" && go build -o "$LOCALAWS" ./internal/shiptest/cmd/localaws)
fi

# Every process, and the batch jobs localaws starts, talk to the local S3.
export AWS_ACCESS_KEY_ID=mlserve
export AWS_SECRET_ACCESS_KEY=mlserve-local-secret
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_PORT
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL

pids=()
stop() {
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

start() { # start NAME CMD...: run in the background, log to $dir/logs/NAME.log
	local name=$1
	shift
	"$@" >"$dir/logs/$name.log" 2>&1 &
	pids+=($!)
}

wait_for() { # wait_for NAME URL: until URL answers at all (any HTTP status)
	local i
	for i in $(seq 1 300); do
		if curl -s -o /dev/null --max-time 1 "$2"; then
			return 0
		fi
		if ! kill -0 "${pids[-1]}" 2>/dev/null; then
			echo "local-stack: $1 exited; its log:" >&2
			cat "$dir/logs/$1.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "local-stack: $1 did not start; see $dir/logs/$1.log" >&2
	exit 1
}

cat >"$dir/goaws.yaml" <<YAML
Local:
  Host: 127.0.0.1
  Port: $SQS_PORT
  Region: us-east-1
  AccountId: "000000000000"
  QueueAttributeDefaults:
    VisibilityTimeout: $VISIBILITY_TIMEOUT
    ReceiveMessageWaitTimeSeconds: 0
    MaximumMessageSize: 262144
  Queues:
    - Name: mlserve-uploads-dlq
    - Name: mlserve-uploads
      RedrivePolicy: '{"maxReceiveCount": $MAX_RECEIVE_COUNT, "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:mlserve-uploads-dlq"}'
YAML
start goaws "$GOAWS" -config "$dir/goaws.yaml" Local
wait_for goaws "http://127.0.0.1:$SQS_PORT/health"

start localaws "$LOCALAWS" --addr "127.0.0.1:$AWS_PORT" \
	--sqs-endpoint "http://127.0.0.1:$SQS_PORT" --sqs-queue mlserve-uploads --window "$WINDOW" \
	--message-body "$MESSAGE_BODY" \
	--invoke-url "http://127.0.0.1:$LAMBDA_PORT/2015-03-31/functions/function/invocations" \
	--prefix input/ --queue mlserve-local --job-definition mlserve-local \
	--job-command "batch --manifest Ref::manifest --output Ref::output" \
	--mlserve "$MLSERVE"
wait_for localaws "http://127.0.0.1:$AWS_PORT/healthz"

start versitygw "$VERSITYGW" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" \
	--region "$AWS_REGION" --port "127.0.0.1:$S3_PORT" \
	--event-webhook-url "http://127.0.0.1:$AWS_PORT/s3-events" \
	posix "$dir/s3"
wait_for versitygw "http://127.0.0.1:$S3_PORT/"

MLSERVE_JOB_QUEUE=arn:aws:batch:us-east-1:000000000000:job-queue/mlserve-local \
MLSERVE_JOB_DEFINITION=arn:aws:batch:us-east-1:000000000000:job-definition/mlserve-local:1 \
MLSERVE_INPUT_PREFIX=input/ MLSERVE_OUTPUT_PREFIX=output/ MLSERVE_BUCKET=$BUCKET \
AWS_ENDPOINT_URL_BATCH=http://127.0.0.1:$AWS_PORT \
	start lambda "$AWS_LAMBDA_RIE" \
	--runtime-interface-emulator-address "127.0.0.1:$LAMBDA_PORT" \
	--runtime-api-address "127.0.0.1:$RUNTIME_API_PORT" \
	"$MLSERVE" lambda
wait_for lambda "http://127.0.0.1:$LAMBDA_PORT/"

start serve "$MLSERVE" serve --addr "127.0.0.1:$SERVE_PORT"
wait_for serve "http://127.0.0.1:$SERVE_PORT/healthz"

cat <<MSG
local stack ready (logs in $dir/logs; Ctrl-C stops it)
  export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY AWS_REGION=$AWS_REGION
  aws --endpoint-url $AWS_ENDPOINT_URL_S3 s3 cp testdata/dog.jpg s3://$BUCKET/input/dog.jpg
  curl -s http://127.0.0.1:$AWS_PORT/local/windows     # each window the queue's poller invoked
  curl -s http://127.0.0.1:$AWS_PORT/local/jobs        # each SubmitJob and its array children
  aws --endpoint-url $AWS_ENDPOINT_URL_S3 s3 ls s3://$BUCKET/output/ --recursive
  curl -s --data-binary @testdata/dog.jpg -H 'Content-Type: image/jpeg' http://127.0.0.1:$SERVE_PORT/predict
MSG

# Run until interrupted, or until a process dies.
set +e
wait -n "${pids[@]}"
echo "local-stack: a process exited; stopping (logs in $dir/logs)" >&2
exit 1
