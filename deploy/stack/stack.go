// Package stack defines mlserve's AWS deployment: one container image used
// by a predict Lambda behind an HTTP API, a submitter Lambda fed by S3
// uploads through an SQS queue, and an AWS Batch job on Fargate (Spot
// first) for bulk runs.
package stack

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Key prefixes in the bucket. Uploads under InputPrefix reach the
// submitter, which writes one manifest per job under ManifestPrefix; jobs
// (and direct bursts) write per-image results under OutputPrefix and their
// aggregates under JobsPrefix. UploadsPrefix holds the real-time path's
// large uploads and expires after a day.
const (
	InputPrefix    = "input/"
	ManifestPrefix = "manifests/"
	OutputPrefix   = "output/"
	JobsPrefix     = OutputPrefix + "_jobs/"
	UploadsPrefix  = "uploads/"
)

// ModelPath is where the image keeps the model (see the Dockerfile).
const ModelPath = "/models/resnet50-v1-12.onnx"

// SweepEvent is the constant event the optional schedule sends the
// submitter: classify everything under input/ that has no result yet.
var SweepEvent = map[string]any{"sweep": map[string]any{"prefix": InputPrefix}}

// builder carries what the parts of the stack share.
type builder struct {
	st    awscdk.Stack
	props Props
	image awsecrassets.DockerImageAsset
}

func (b *builder) str(s string) *string { return jsii.String(s) }

func (b *builder) seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

// logGroup makes a log group with the stack's retention, deleted with the
// stack.
func (b *builder) logGroup(name string) awslogs.LogGroup {
	return awslogs.NewLogGroup(b.st, b.str(name+"Logs"), &awslogs.LogGroupProps{
		Retention:     b.props.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
}

func (b *builder) lambdaArchitecture() awslambda.Architecture {
	if b.props.Architecture == ARM64 {
		return awslambda.Architecture_ARM_64()
	}
	return awslambda.Architecture_X86_64()
}

// function is one container-image Lambda function of the shared image.
type function struct {
	id, description string
	memoryMiB       int
	timeout         time.Duration
	reserved        int // reserved concurrency; negative: none
	env             map[string]*string
}

// imageFunction makes a function with a role of its own that may write its
// own log group and pull the image, nothing else (no managed policies).
func (b *builder) imageFunction(f function) awslambda.DockerImageFunction {
	logs := b.logGroup(f.id)
	role := awsiam.NewRole(b.st, b.str(f.id+"Role"), &awsiam.RoleProps{
		Description: b.str(f.description),
		AssumedBy:   awsiam.NewServicePrincipal(b.str("lambda.amazonaws.com"), nil),
	})
	logs.GrantWrite(role)
	var reserved *float64
	if f.reserved >= 0 {
		reserved = jsii.Number(f.reserved)
	}
	env := map[string]*string{"MLSERVE_LOG_FORMAT": b.str("json")}
	for k, v := range f.env {
		env[k] = v
	}
	fn := awslambda.NewDockerImageFunction(b.st, b.str(f.id), &awslambda.DockerImageFunctionProps{
		Description: b.str(f.description),
		Code: awslambda.DockerImageCode_FromEcr(b.image.Repository(), &awslambda.EcrImageCodeProps{
			TagOrDigest: b.image.ImageTag(),
			Cmd:         jsii.Strings("lambda"),
		}),
		Architecture:                 b.lambdaArchitecture(),
		MemorySize:                   jsii.Number(f.memoryMiB),
		Timeout:                      b.seconds(f.timeout),
		ReservedConcurrentExecutions: reserved,
		Role:                         role,
		LogGroup:                     logs,
		Environment:                  &env,
	})
	return fn
}

// New adds the mlserve stack to scope.
func New(scope constructs.Construct, id string, props Props) (awscdk.Stack, error) {
	if err := props.fill(); err != nil {
		return nil, fmt.Errorf("stack %s: %w", id, err)
	}
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	// Server access logs are delivered under a bucket policy for the
	// logging service, not the legacy log-delivery ACL.
	st.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)

	platform := awsecrassets.Platform_LINUX_AMD64()
	if props.Architecture == ARM64 {
		platform = awsecrassets.Platform_LINUX_ARM64()
	}
	b := &builder{st: st, props: props}
	// One image for all three roles. Synth only stages the directory (the
	// .dockerignore keeps .git, bin/, deploy/ and model files out); Docker is
	// needed at deploy time only.
	b.image = awsecrassets.NewDockerImageAsset(st, jsii.String("Image"), &awsecrassets.DockerImageAssetProps{
		Directory: jsii.String(props.ImageDir),
		Target:    jsii.String("runtime"),
		Platform:  platform,
		Exclude:   jsii.Strings("deploy", "bin", ".git", ".cache", "**/*.onnx"),
	})

	bucket := b.buckets()
	predict := b.predict(bucket)
	apiURL := b.api(predict)
	batch := b.batch(bucket)
	ingest := b.ingest(bucket, batch)
	b.outputs(bucket, apiURL, batch, ingest)
	if props.FunctionURL {
		fu := predict.AddFunctionUrl(&awslambda.FunctionUrlOptions{AuthType: awslambda.FunctionUrlAuthType_AWS_IAM})
		b.out("FunctionUrl", *fu.Url(), "predict Function URL (IAM auth: sign requests with SigV4, service lambda)")
	}
	suppressCDKInternals(st)
	return st, nil
}

// UploadMaxBytes is the largest image POST /predict reads from uploads/
// (MLSERVE_UPLOAD_MAX_BYTES), and UploadExpiry the lifetime of the
// presigned PUT URLs POST /uploads answers (MLSERVE_UPLOAD_EXPIRY).
const (
	UploadMaxBytes = 50 << 20
	UploadExpiry   = "5m"
)

// predict: POST /predict and POST /uploads through the HTTP API. Besides
// its request it reads only what clients PUT under uploads/ to the URLs it
// presigns, so its role may write its logs, pull the image, and get and
// put objects under uploads/ (a presigned PUT runs with the permissions of
// whoever signed it), nothing else in the bucket.
func (b *builder) predict(bucket awss3.Bucket) awslambda.DockerImageFunction {
	fn := b.imageFunction(function{
		id:          "Predict",
		description: "mlserve predict: classify the image in the request body or under uploads/",
		memoryMiB:   b.props.PredictMemoryMiB,
		timeout:     time.Minute,
		reserved:    b.props.PredictConcurrency,
		env: map[string]*string{
			"MLSERVE_MODEL":            b.str(ModelPath),
			"MLSERVE_UPLOAD_BUCKET":    bucket.BucketName(),
			"MLSERVE_UPLOAD_PREFIX":    b.str(UploadsPrefix),
			"MLSERVE_UPLOAD_MAX_BYTES": b.str(strconv.Itoa(UploadMaxBytes)),
			"MLSERVE_UPLOAD_EXPIRY":    b.str(UploadExpiry),
		},
	})
	fn.Role().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetObject", "s3:PutObject"),
		Resources: jsii.Strings(*bucket.ArnForObjects(b.str(UploadsPrefix + "*"))),
	}))
	b.suppressPrefixes(fn.Role(), bucket, "predict reads the images clients PUT under uploads/ and presigns those PUTs, which run with its permissions", UploadsPrefix)
	return fn
}

func (b *builder) out(id, value, desc string) {
	awscdk.NewCfnOutput(b.st, b.str(id), &awscdk.CfnOutputProps{Value: b.str(value), Description: b.str(desc)})
}
