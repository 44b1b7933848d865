package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
)

// curlExample is how to call POST /predict in the stack's auth mode, run
// from the repository root (testdata/dog.jpg is the sample photo).
func (b *builder) curlExample(predictURL string) string {
	const body = "--data-binary @testdata/dog.jpg -H 'Content-Type: image/jpeg'"
	switch b.props.Auth {
	case AuthJWT:
		return fmt.Sprintf(`curl -sS -H "Authorization: Bearer $TOKEN" %s %s`, body, predictURL)
	case AuthPublic:
		return fmt.Sprintf("curl -sS %s %s", body, predictURL)
	default:
		return fmt.Sprintf(`curl -sS --aws-sigv4 "aws:amz:%s:execute-api" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" `+
			`-H "x-amz-security-token: $AWS_SESSION_TOKEN" %s %s`, *b.st.Region(), body, predictURL)
	}
}

func (b *builder) outputs(bucket awss3.Bucket, apiURL string, batch batchParts, in ingestParts) {
	predictURL := apiURL + "predict"
	b.out("ApiUrl", apiURL, "HTTP API base URL")
	b.out("PredictUrl", predictURL, "POST an image here (auth: "+string(b.props.Auth)+")")
	b.out("CurlExample", b.curlExample(predictURL), "classify one image (from the repository root)")
	b.out("BucketName", *bucket.BucketName(), "bucket: upload to "+InputPrefix+", results appear under "+OutputPrefix)
	b.out("BatchInputExample", fmt.Sprintf("aws s3 cp testdata/ s3://%s/%s --recursive", *bucket.BucketName(), InputPrefix),
		"classify many images by uploading them")
	b.out("OutputsExample", fmt.Sprintf("aws s3 ls s3://%s/%s --recursive", *bucket.BucketName(), OutputPrefix), "list the results")
	b.out("JobQueueArn", *batch.queue.JobQueueArn(), "AWS Batch job queue")
	b.out("JobDefinitionArn", *batch.jobDef.JobDefinitionArn(), "AWS Batch job definition")
	b.out("IngestQueueUrl", *in.queue.QueueUrl(), "SQS queue between the bucket and the submitter")
	b.out("IngestQueueArn", *in.queue.QueueArn(), "where the dead-letter queue drains to (--destination-arn)")
	b.out("DeadLetterQueueUrl", *in.dlq.QueueUrl(), "uploads that could not be submitted after the last try")
	b.out("DeadLetterQueueArn", *in.dlq.QueueArn(), "drain with: aws sqs start-message-move-task --source-arn <this> --destination-arn <IngestQueueArn>")
	b.out("DeadLetterAlarmName", *in.alarm.AlarmName(), "alarm on the dead-letter queue's depth (add an action to be told)")
	b.out("SubmitterName", *in.submitter.FunctionName(), "the submitter function")
}
