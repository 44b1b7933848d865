package stack

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// queues returns the logical ids of the ingest queue and its DLQ.
func (s *synthed) queues(t *testing.T) (ingest, dlq string) {
	return s.linked(t, "AWS::SQS::Queue", "the ingest queue and its DLQ", func(p map[string]any) any {
		rp, _ := p["RedrivePolicy"].(map[string]any)
		return rp["deadLetterTargetArn"]
	})
}

func TestIngest(t *testing.T) {
	s := synth(t, "default")
	ingest, dlq := s.queues(t)
	submitter, _ := s.imageFunction(t, "mlserve submitter")
	queues := s.resources("AWS::SQS::Queue")
	for _, id := range []string{ingest, dlq} {
		if got := queues[id]["SqsManagedSseEnabled"]; got != true {
			t.Errorf("%s: SqsManagedSseEnabled got %v, want encryption at rest", id, got)
		}
		if got := queues[id]["MessageRetentionPeriod"]; got != float64(14*24*3600) {
			t.Errorf("%s: MessageRetentionPeriod got %v, want 14 days", id, got)
		}
		if _, ok := queues[id]["FifoQueue"]; ok {
			t.Errorf("%s: want a standard queue", id)
		}
		assert(t, id+": SSL only", func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
				"Queues": assertions.Match_ArrayWith(&[]any{map[string]any{"Ref": id}}),
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect":    "Deny",
					"Action":    "sqs:*",
					"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				})})},
			})
		})
	}
	// AWS: at least six times the function timeout (300 s) plus the
	// batching window (30 s).
	if got := queues[ingest]["VisibilityTimeout"]; got != float64(6*300+30) {
		t.Errorf("VisibilityTimeout: got %v, want 1830", got)
	}
	if got := jsonString(queues[ingest]["RedrivePolicy"]); !strings.Contains(got, `"maxReceiveCount":5`) {
		t.Errorf("RedrivePolicy: got %s, want 5 receives", got)
	}
	assert(t, "the submitter consumes the queue in windows", func() {
		s.tmpl.ResourceCountIs(jsii.String("AWS::Lambda::EventSourceMapping"), jsii.Number(1))
		s.tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
			"EventSourceArn":                 map[string]any{"Fn::GetAtt": []any{ingest, "Arn"}},
			"FunctionName":                   map[string]any{"Ref": submitter},
			"BatchSize":                      10000,
			"MaximumBatchingWindowInSeconds": 30,
			"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
			"ScalingConfig":                  map[string]any{"MaximumConcurrency": 2},
		})
	})
	assert(t, "an alarm on the DLQ's depth", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Namespace":          "AWS/SQS",
			"MetricName":         "ApproximateNumberOfMessagesVisible",
			"Dimensions":         []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{dlq, "QueueName"}}}},
			"Threshold":          1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold",
			"TreatMissingData":   "notBreaching",
		})
	})
	if a := s.resources("AWS::CloudWatch::Alarm"); len(a) != 1 {
		t.Errorf("alarms: got %d, want 1", len(a))
	} else {
		for _, p := range a {
			if p["AlarmActions"] != nil {
				t.Errorf("AlarmActions without alarmTopicArn: %v", p["AlarmActions"])
			}
		}
	}
}

// TestUploadsRule: the bucket's events reach the queue through one rule,
// and what the rule cannot deliver reaches the DLQ.
func TestUploadsRule(t *testing.T) {
	s := synth(t, "default")
	ingest, dlq := s.queues(t)
	data, _ := s.buckets(t)
	assert(t, "the bucket sends its events to EventBridge, and to no queue or function directly", func() {
		s.tmpl.HasResourceProperties(jsii.String("Custom::S3BucketNotifications"), map[string]any{
			"BucketName": map[string]any{"Ref": data},
			"NotificationConfiguration": map[string]any{
				"EventBridgeConfiguration":     map[string]any{},
				"LambdaFunctionConfigurations": assertions.Match_Absent(),
				"QueueConfigurations":          assertions.Match_Absent(),
			},
		})
	})
	rule := s.uploadsRule(t)
	assert(t, "a rule puts uploads under input/ on the queue as {bucket, key}", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"EventPattern": map[string]any{
				"source":      []any{"aws.s3"},
				"detail-type": []any{"Object Created"},
				"detail": map[string]any{
					"bucket": map[string]any{"name": []any{map[string]any{"Ref": data}}},
					"object": map[string]any{"key": []any{map[string]any{"prefix": InputPrefix}}},
				},
			},
			"Targets": []any{map[string]any{
				"Arn": map[string]any{"Fn::GetAtt": []any{ingest, "Arn"}},
				"Id":  assertions.Match_AnyValue(),
				"InputTransformer": map[string]any{
					"InputPathsMap": map[string]any{"detail-bucket-name": "$.detail.bucket.name", "detail-object-key": "$.detail.object.key"},
					// Placeholders outside quotes: EventBridge writes each
					// value as a JSON string, quotes and backslashes escaped.
					"InputTemplate": `{"bucket":<detail-bucket-name>,"key":<detail-object-key>}`,
				},
				// What EventBridge cannot deliver goes to the ingest DLQ
				// (as the event itself; the submitter takes that form).
				"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}}},
				"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 24 * 3600},
			}},
		})
	})
	assert(t, "only that rule may dead-letter into the DLQ", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
			"Queues": []any{map[string]any{"Ref": dlq}},
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect":    "Allow",
				"Principal": map[string]any{"Service": "events.amazonaws.com"},
				"Action":    "sqs:SendMessage",
				"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": map[string]any{"Fn::GetAtt": []any{rule, "Arn"}}}},
				"Resource":  map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}},
			})})},
		})
	})
	assert(t, "only that rule may send to the queue", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
			"Queues": []any{map[string]any{"Ref": ingest}},
			"PolicyDocument": map[string]any{"Statement": []any{
				assertions.Match_ObjectLike(&map[string]any{"Effect": "Deny"}),
				map[string]any{
					"Effect":    "Allow",
					"Principal": map[string]any{"Service": "events.amazonaws.com"},
					"Action":    []any{"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
					"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": map[string]any{"Fn::GetAtt": []any{rule, "Arn"}}}},
					"Resource":  map[string]any{"Fn::GetAtt": []any{ingest, "Arn"}},
				},
			}},
		})
	})
	for id, p := range s.resources("AWS::Events::Rule") {
		if id != rule {
			t.Errorf("rule %s (%v): want no schedule by default, only the uploads rule", id, p["ScheduleExpression"])
		}
	}
}

// uploadsRule returns the logical id of the one rule with an event pattern.
func (s *synthed) uploadsRule(t *testing.T) string {
	t.Helper()
	var ids []string
	for id, p := range s.resources("AWS::Events::Rule") {
		if p["EventPattern"] != nil {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("rules with an event pattern: %v, want one", ids)
	}
	return ids[0]
}

// TestIngestOptions: the alarm topic and the sweep schedule.
func TestIngestOptions(t *testing.T) {
	sched := synth(t, "arm64-jwt")
	sub, _ := sched.imageFunction(t, "mlserve submitter")
	assert(t, "alarmTopicArn: told when the alarm fires and clears", func() {
		topic := "arn:aws:sns:us-east-1:123456789012:ops-alerts"
		sched.tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"MetricName":   "ApproximateNumberOfMessagesVisible",
			"AlarmActions": []any{topic},
			"OKActions":    []any{topic},
		})
	})
	assert(t, "sweepSchedule: a rule sends the sweep event to the submitter", func() {
		sched.tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"ScheduleExpression": "rate(1 day)",
			"State":              "ENABLED",
			"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
				"Arn":         map[string]any{"Fn::GetAtt": []any{sub, "Arn"}},
				"Input":       `{"sweep":{"prefix":"input/"}}`,
				"RetryPolicy": map[string]any{"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
			})},
		})
		sched.tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
			"Action":       "lambda:InvokeFunction",
			"Principal":    "events.amazonaws.com",
			"FunctionName": map[string]any{"Fn::GetAtt": []any{sub, "Arn"}},
		})
	})
}
