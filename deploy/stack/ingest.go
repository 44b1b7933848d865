package stack

import (
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// eventSourceConcurrency caps how many submitter invocations the queue's
// event source mapping runs at once. 2 is the least SQS allows: fewer
// windows at once means fewer, larger jobs.
const eventSourceConcurrency = 2

// messageRetention keeps undelivered messages (and DLQ messages) for the
// longest SQS allows, 14 days: uploads wait out a broken Batch queue.
const messageRetention = 14 * 24 * time.Hour

type ingestParts struct {
	queue, dlq awssqs.Queue
	submitter  awslambda.DockerImageFunction
	alarm      awscloudwatch.Alarm
	rule       awsevents.Rule
}

// visibilityTimeout follows AWS's guidance for SQS event sources: at
// least six times the function's timeout plus the batching window, so a
// message is not delivered again while an invocation (or its retries by
// Lambda's poller) may still hold it.
func (p *Props) visibilityTimeout() time.Duration {
	return 6*p.SubmitterTimeout + p.BatchWindow
}

// ingest: uploads under input/ -> EventBridge -> SQS queue (DLQ after
// MaxReceives) -> the submitter through an event source mapping, and the
// optional sweep schedule.
func (b *builder) ingest(bucket awss3.Bucket, batch batchParts) ingestParts {
	var in ingestParts
	queueProps := func(more *awssqs.QueueProps) *awssqs.QueueProps {
		more.Encryption = awssqs.QueueEncryption_SQS_MANAGED
		more.EnforceSSL = jsii.Bool(true)
		more.RetentionPeriod = b.seconds(messageRetention)
		return more
	}
	in.dlq = awssqs.NewQueue(b.st, b.str("IngestDeadLetters"), queueProps(&awssqs.QueueProps{}))
	in.queue = awssqs.NewQueue(b.st, b.str("Ingest"), queueProps(&awssqs.QueueProps{
		VisibilityTimeout: b.seconds(b.props.visibilityTimeout()),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: in.dlq, MaxReceiveCount: jsii.Number(b.props.MaxReceives)},
	}))
	in.rule = b.uploadsRule(bucket, in.queue, in.dlq)
	in.alarm = awscloudwatch.NewAlarm(b.st, b.str("IngestDeadLettersAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: b.str("mlserve: uploads under " + InputPrefix + " that the submitter could not hand to Batch sit in the dead-letter queue; " +
			"see deploy/README.md (drain the DLQ)"),
		Metric: in.dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period:    awscdk.Duration_Minutes(jsii.Number(5)),
			Statistic: b.str("Maximum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if b.props.AlarmTopicARN != "" {
		topic := awscloudwatchactions.NewSnsAction(awssns.Topic_FromTopicArn(b.st, b.str("AlarmTopic"), b.str(b.props.AlarmTopicARN)))
		in.alarm.AddAlarmAction(topic)
		in.alarm.AddOkAction(topic)
	}

	in.submitter = b.submitter(bucket, batch)
	in.submitter.AddEventSource(awslambdaeventsources.NewSqsEventSource(in.queue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(b.props.BatchSize),
		MaxBatchingWindow:       b.seconds(b.props.BatchWindow),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(eventSourceConcurrency),
	}))
	if b.props.SweepSchedule != "" {
		awsevents.NewRule(b.st, b.str("Sweep"), &awsevents.RuleProps{
			Description: b.str("mlserve: classify everything under " + InputPrefix + " that has no result yet"),
			Schedule:    awsevents.Schedule_Expression(b.str(b.props.SweepSchedule)),
			Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(in.submitter, &awseventstargets.LambdaFunctionProps{
				Event:         awsevents.RuleTargetInput_FromObject(SweepEvent),
				RetryAttempts: jsii.Number(2),
				MaxEventAge:   awscdk.Duration_Hours(jsii.Number(1)),
			})},
		})
	}
	return in
}

// submitter turns windows of uploads into one Batch job each (or
// classifies a small burst itself). It may read input/ and output/
// (the ETag skip), list the bucket (the sweep), write manifests/ and
// output/, and submit to this queue with this definition; nothing more.
func (b *builder) submitter(bucket awss3.Bucket, batch batchParts) awslambda.DockerImageFunction {
	directMax := max(b.props.DirectMax, 0)
	fn := b.imageFunction(function{
		id:          "Submitter",
		description: "mlserve submitter: one AWS Batch job per window of uploads under " + InputPrefix + " (small bursts classified here)",
		memoryMiB:   b.props.SubmitterMemoryMiB,
		timeout:     b.props.SubmitterTimeout,
		reserved:    b.props.SubmitterConcurrency,
		env: map[string]*string{
			"MLSERVE_JOB_QUEUE":        batch.queue.JobQueueArn(),
			"MLSERVE_JOB_DEFINITION":   batch.jobDef.JobDefinitionArn(),
			"MLSERVE_JOB_NAME_PREFIX":  b.str("mlserve"),
			"MLSERVE_INPUT_PREFIX":     b.str(InputPrefix),
			"MLSERVE_OUTPUT_PREFIX":    b.str(OutputPrefix),
			"MLSERVE_IMAGES_PER_CHILD": b.str(strconv.Itoa(b.props.ImagesPerChild)),
			"MLSERVE_DIRECT_MAX":       b.str(strconv.Itoa(directMax)),
			"MLSERVE_MODEL":            b.str(ModelPath),
			"MLSERVE_BUCKET":           bucket.BucketName(), // the scheduled sweep's bucket
			// No model at init (a fast cold start); a direct burst loads it.
			"MLSERVE_SUBMIT_ONLY": b.str("true"),
		},
	})
	statement := func(sid string, actions []string, resources ...*string) {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: b.str(sid), Actions: jsii.Strings(actions...), Resources: &resources,
		}))
	}
	statement("SubmitToThisQueue", []string{"batch:SubmitJob"}, batch.queue.JobQueueArn(), batch.jobDef.JobDefinitionArn())
	statement("ReadInputsAndResults", []string{"s3:GetObject"}, objects(bucket, InputPrefix), objects(bucket, OutputPrefix))
	statement("WriteManifestsAndResults", []string{"s3:PutObject", "s3:AbortMultipartUpload"},
		objects(bucket, ManifestPrefix), objects(bucket, OutputPrefix))
	// ListBucket: the sweep lists input/, and a missing result is a 404
	// rather than a 403. Keys only; the bucket holds only mlserve's prefixes.
	statement("ListBucket", []string{"s3:ListBucket"}, bucket.BucketArn())
	// The submitter tags its jobs (app, trigger, bucket): tagging on
	// creation needs TagResource, limited to SubmitJob.
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     b.str("TagSubmittedJobs"),
		Actions: jsii.Strings("batch:TagResource"),
		Resources: &[]*string{b.st.FormatArn(&awscdk.ArnComponents{
			Service: b.str("batch"), Resource: b.str("job"), ResourceName: b.str("*"),
			ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
		})},
		Conditions: &map[string]any{"StringEquals": map[string]any{"batch:CreateAction": "SubmitJob"}},
	}))
	b.suppressPrefixes(fn.Role(), bucket, "the submitter reads the uploads and results and writes the manifests and results under these prefixes",
		InputPrefix, ManifestPrefix, OutputPrefix)
	suppress(fn.Role(), "AwsSolutions-IAM5",
		"job ids are chosen by Batch at SubmitJob; the condition batch:CreateAction=SubmitJob limits tagging to the jobs this role creates",
		// The region and account are tokens, or literals when the CLI knows them.
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:batch:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12}):job\/\*$/`)})
	return fn
}

// uploadsRule: S3 sends every bucket event to EventBridge; this rule takes
// "Object Created" under input/ and puts the compact body
// {"bucket": "...", "key": "..."} on the queue (EventBridge keys are not
// URL-encoded). About 150 bytes instead of an S3 notification's 1.3 KB, so
// a window of 10,000 uploads fits Lambda's 6 MB event. The target adds the
// queue policy that lets only this rule send. An event EventBridge cannot
// put on the queue (a broken queue policy or key, throttling past its
// retries) goes to the ingest dead-letter queue, as the event itself: the
// submitter takes that form too, so draining the DLQ into the ingest queue
// submits it like any upload.
func (b *builder) uploadsRule(bucket awss3.Bucket, queue, dlq awssqs.Queue) awsevents.Rule {
	bucket.EnableEventBridgeNotification()
	return awsevents.NewRule(b.st, b.str("Uploads"), &awsevents.RuleProps{
		Description: b.str("mlserve: uploads under " + InputPrefix + " -> the ingest queue, as {bucket, key}"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.s3"),
			DetailType: jsii.Strings("Object Created"),
			Detail: &map[string]any{
				"bucket": map[string]any{"name": []any{bucket.BucketName()}},
				"object": map[string]any{"key": []any{map[string]any{"prefix": InputPrefix}}},
			},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSqsQueue(queue, &awseventstargets.SqsQueueProps{
			Message: awsevents.RuleTargetInput_FromObject(map[string]any{
				"bucket": awsevents.EventField_FromPath(b.str("$.detail.bucket.name")),
				"key":    awsevents.EventField_FromPath(b.str("$.detail.object.key")),
			}),
			DeadLetterQueue: dlq,
			// EventBridge's most: 185 tries over 24 hours.
			RetryAttempts: jsii.Number(185),
			MaxEventAge:   awscdk.Duration_Hours(jsii.Number(24)),
		})},
	})
}
