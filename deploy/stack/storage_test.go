package stack

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// buckets returns the logical ids of the data bucket (the one that logs
// its access) and of the access-log bucket.
func (s *synthed) buckets(t *testing.T) (data, logs string) {
	return s.linked(t, "AWS::S3::Bucket", "the data bucket and its access-log bucket", func(p map[string]any) any {
		lc, _ := p["LoggingConfiguration"].(map[string]any)
		return lc["DestinationBucketName"]
	})
}

func TestBuckets(t *testing.T) {
	s := synth(t, "default")
	data, logs := s.buckets(t)
	for _, id := range []string{data, logs} {
		assert(t, id+": encrypted, private, owner-enforced, no fixed name, kept on destroy", func() {
			s.tmpl.HasResource(jsii.String("AWS::S3::Bucket"), map[string]any{
				"DeletionPolicy": "Retain",
				"Properties": map[string]any{
					"BucketName": assertions.Match_Absent(),
					"BucketEncryption": map[string]any{
						"ServerSideEncryptionConfiguration": []any{map[string]any{
							"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"},
						}},
					},
					"PublicAccessBlockConfiguration": map[string]any{
						"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
					},
					"OwnershipControls": map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
				},
			})
		})
		assert(t, id+": SSL enforced", func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
				"Bucket": map[string]any{"Ref": id},
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
					"Effect":    "Deny",
					"Action":    "s3:*",
					"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				})})},
			})
		})
	}
	buckets := s.resources("AWS::S3::Bucket")
	if got := jsonString(buckets[data]["LoggingConfiguration"]); !strings.Contains(got, `"LogFilePrefix":"`+AccessLogPrefix+`"`) {
		t.Errorf("data bucket logging: got %s", got)
	}
	rules := jsonString(buckets[data]["LifecycleConfiguration"])
	for _, want := range []string{
		`{"ExpirationInDays":1,"Id":"expire-uploads","Prefix":"` + UploadsPrefix + `","Status":"Enabled"}`,
		`{"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7},"Id":"abort-incomplete-multipart-uploads","Status":"Enabled"}`,
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("data bucket lifecycle: got %s, want %s", rules, want)
		}
	}
	if got := jsonString(buckets[logs]["LifecycleConfiguration"]); !strings.Contains(got, `"ExpirationInDays":90`) {
		t.Errorf("access logs expire: got %s, want after 90 days", got)
	}
	assert(t, "the logging service may write the access logs, under the prefix only", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
			"Bucket": map[string]any{"Ref": logs},
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect":    "Allow",
				"Action":    "s3:PutObject",
				"Principal": map[string]any{"Service": "logging.s3.amazonaws.com"},
				"Resource":  map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{logs, "Arn"}}, "/" + AccessLogPrefix + "*"}}},
			})})},
		})
	})

	destroy := synth(t, "public")
	assert(t, "destroyBucket: both buckets deleted and emptied", func() {
		destroy.tmpl.AllResources(jsii.String("AWS::S3::Bucket"), map[string]any{"DeletionPolicy": "Delete"})
		destroy.tmpl.ResourceCountIs(jsii.String("Custom::S3AutoDeleteObjects"), jsii.Number(2))
	})
}
