package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// AccessLogPrefix is where the data bucket's server access logs land in
// the log bucket.
const AccessLogPrefix = "s3-access/"

// buckets makes the data bucket and the bucket that receives its server
// access logs (expired after AccessLogDays).
func (b *builder) buckets() awss3.Bucket {
	removal := awscdk.RemovalPolicy_RETAIN
	if b.props.DestroyBucket {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	private := func(id string, more *awss3.BucketProps) awss3.Bucket {
		more.Encryption = awss3.BucketEncryption_S3_MANAGED
		more.BlockPublicAccess = awss3.BlockPublicAccess_BLOCK_ALL()
		more.EnforceSSL = jsii.Bool(true)
		more.ObjectOwnership = awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED
		more.RemovalPolicy = removal
		more.AutoDeleteObjects = jsii.Bool(b.props.DestroyBucket)
		return awss3.NewBucket(b.st, b.str(id), more)
	}
	logs := private("AccessLogs", &awss3.BucketProps{
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         b.str("expire-access-logs"),
			Expiration: awscdk.Duration_Days(jsii.Number(b.props.AccessLogDays)),
		}},
	})
	return private("Bucket", &awss3.BucketProps{
		Versioned:              jsii.Bool(false),
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: b.str(AccessLogPrefix),
		LifecycleRules: &[]*awss3.LifecycleRule{
			{
				// Large real-time uploads are read once, right after the
				// upload: keep them a day.
				Id:         b.str("expire-uploads"),
				Prefix:     b.str(UploadsPrefix),
				Expiration: awscdk.Duration_Days(jsii.Number(1)),
			},
			{
				Id:                                  b.str("abort-incomplete-multipart-uploads"),
				AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
			},
		},
	})
}
