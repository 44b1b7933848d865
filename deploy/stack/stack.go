// Package stack defines mlserve's AWS deployment: one container image used
// by a predict Lambda behind an HTTP API, a submitter Lambda fed by S3
// uploads, and an AWS Batch job on Fargate (Spot first) for bulk runs.
package stack

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Key prefixes in the bucket. The submitter reacts to uploads under
// InputPrefix, writes one manifest per job under ManifestPrefix, and the
// job writes its results under OutputPrefix.
const (
	InputPrefix    = "input/"
	ManifestPrefix = "manifests/"
	OutputPrefix   = "output/"
)

// ModelPath is where the image keeps the model (see the Dockerfile).
const ModelPath = "/models/resnet50-v1-12.onnx"

// JobCommand is the Batch job's command; Batch substitutes Ref::name with
// the parameters that SubmitJob passes (or the job definition's defaults).
var JobCommand = []string{"batch", "--manifest", "Ref::manifest", "--output", "Ref::output"}

// Exit codes of `mlserve batch` (internal/cli/root.go) that the retry
// strategy tells apart.
const (
	exitFailures    = "1" // failures over --max-failures: the input is bad, a retry fails the same way
	exitUsage       = "2" // bad flags or parameters
	exitInterrupted = "3" // SIGTERM (Spot reclaim, scale-in): re-running resumes
)

// Props configure the stack. Zero values take the defaults in Defaults.
type Props struct {
	awscdk.StackProps

	// ImageDir is the directory with the Dockerfile: the repository root.
	ImageDir string
	// PredictMemoryMiB is the predict function's memory (and so its CPU share).
	PredictMemoryMiB int
	// SubmitterMemoryMiB is the submitter function's memory.
	SubmitterMemoryMiB int
	// FunctionURL adds an IAM-authenticated Lambda Function URL to predict.
	FunctionURL bool
	// LogRetention applies to every log group the stack creates.
	LogRetention awslogs.RetentionDays
	// JobVCPU and JobMemoryMiB size one Batch job (a valid Fargate pair).
	JobVCPU      float64
	JobMemoryMiB int
	// MaxVCPUs caps each compute environment.
	MaxVCPUs int
	// JobTimeout ends an attempt that runs longer.
	JobTimeout time.Duration
	// JobAttempts is how often Batch tries a job (1-10).
	JobAttempts int
	// DestroyBucket empties and deletes the bucket on `cdk destroy`
	// (default: the bucket and its data are kept).
	DestroyBucket bool
}

// Defaults returns the props the app uses when cdk.json and -c set nothing.
func Defaults() Props {
	return Props{
		ImageDir:           "..",
		PredictMemoryMiB:   3008,
		SubmitterMemoryMiB: 256, // MLSERVE_SUBMIT_ONLY: the submitter loads no model
		LogRetention:       awslogs.RetentionDays_TWO_WEEKS,
		JobVCPU:            4,
		JobMemoryMiB:       8192,
		MaxVCPUs:           64,
		JobTimeout:         4 * time.Hour,
		JobAttempts:        3,
	}
}

func (p *Props) fill() error {
	d := Defaults()
	if p.ImageDir == "" {
		p.ImageDir = d.ImageDir
	}
	if p.PredictMemoryMiB == 0 {
		p.PredictMemoryMiB = d.PredictMemoryMiB
	}
	if p.SubmitterMemoryMiB == 0 {
		p.SubmitterMemoryMiB = d.SubmitterMemoryMiB
	}
	if p.LogRetention == "" {
		p.LogRetention = d.LogRetention
	}
	if p.JobVCPU == 0 {
		p.JobVCPU = d.JobVCPU
	}
	if p.JobMemoryMiB == 0 {
		p.JobMemoryMiB = d.JobMemoryMiB
	}
	if p.MaxVCPUs == 0 {
		p.MaxVCPUs = d.MaxVCPUs
	}
	if p.JobTimeout == 0 {
		p.JobTimeout = d.JobTimeout
	}
	if p.JobAttempts == 0 {
		p.JobAttempts = d.JobAttempts
	}
	switch {
	case p.PredictMemoryMiB < 128 || p.PredictMemoryMiB > 10240:
		return fmt.Errorf("predict memory %d MiB: want 128..10240", p.PredictMemoryMiB)
	case p.SubmitterMemoryMiB < 128 || p.SubmitterMemoryMiB > 10240:
		return fmt.Errorf("submitter memory %d MiB: want 128..10240", p.SubmitterMemoryMiB)
	case p.JobAttempts < 1 || p.JobAttempts > 10:
		return fmt.Errorf("job attempts %d: want 1..10", p.JobAttempts)
	case p.JobTimeout < time.Minute:
		return fmt.Errorf("job timeout %v: want at least 1m", p.JobTimeout)
	case p.MaxVCPUs < int(p.JobVCPU):
		return fmt.Errorf("max vCPUs %d is less than one job's %v", p.MaxVCPUs, p.JobVCPU)
	}
	return nil
}

// New adds the mlserve stack to scope.
func New(scope constructs.Construct, id string, props Props) (awscdk.Stack, error) {
	if err := props.fill(); err != nil {
		return nil, fmt.Errorf("stack %s: %w", id, err)
	}
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	str := jsii.String

	// One image for all three roles. Synth only stages the directory (the
	// .dockerignore keeps .git, bin/, deploy/ and model files out); Docker is
	// needed at deploy time only.
	image := awsecrassets.NewDockerImageAsset(st, str("Image"), &awsecrassets.DockerImageAssetProps{
		Directory: str(props.ImageDir),
		Target:    str("runtime"),
		Platform:  awsecrassets.Platform_LINUX_AMD64(),
		Exclude:   jsii.Strings("deploy", "bin", ".git", ".cache", "**/*.onnx"),
	})

	removal := awscdk.RemovalPolicy_RETAIN
	if props.DestroyBucket {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	bucket := awss3.NewBucket(st, str("Bucket"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(false),
		RemovalPolicy:     removal,
		AutoDeleteObjects: jsii.Bool(props.DestroyBucket),
	})

	logGroup := func(name string) awslogs.LogGroup {
		return awslogs.NewLogGroup(st, str(name+"Logs"), &awslogs.LogGroupProps{
			Retention:     props.LogRetention,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
	}

	// predict: POST /predict through the HTTP API. It reads nothing but its
	// request, so its role has only the basic execution policy (and image pull).
	predict := awslambda.NewDockerImageFunction(st, str("Predict"), &awslambda.DockerImageFunctionProps{
		Description: str("mlserve predict: classify the image in the request body"),
		Code: awslambda.DockerImageCode_FromEcr(image.Repository(), &awslambda.EcrImageCodeProps{
			TagOrDigest: image.ImageTag(),
			Cmd:         jsii.Strings("lambda"),
		}),
		Architecture: awslambda.Architecture_X86_64(),
		MemorySize:   jsii.Number(props.PredictMemoryMiB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(60)),
		LogGroup:     logGroup("Predict"),
		Environment: &map[string]*string{
			"MLSERVE_MODEL":      str(ModelPath),
			"MLSERVE_LOG_FORMAT": str("json"),
		},
	})
	api := awsapigatewayv2.NewHttpApi(st, str("Api"), &awsapigatewayv2.HttpApiProps{
		Description: str("mlserve: POST an image to /predict"),
	})
	api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        str("/predict"),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_POST},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(str("PredictIntegration"), predict, nil),
	})

	// Batch: Fargate Spot first, on-demand Fargate when Spot has no capacity.
	// Public subnets with public IPs reach ECR, S3 and CloudWatch without NAT
	// gateways; the S3 gateway endpoint keeps bucket traffic inside the VPC.
	vpc := awsec2.NewVpc(st, str("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name:       str("public"),
			SubnetType: awsec2.SubnetType_PUBLIC,
			CidrMask:   jsii.Number(20),
		}},
	})
	vpc.AddGatewayEndpoint(str("S3"), &awsec2.GatewayVpcEndpointOptions{
		Service: awsec2.GatewayVpcEndpointAwsService_S3(),
	})
	public := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}
	spot := awsbatch.NewFargateComputeEnvironment(st, str("FargateSpot"), &awsbatch.FargateComputeEnvironmentProps{
		Vpc:        vpc,
		VpcSubnets: public,
		Spot:       jsii.Bool(true),
		MaxvCpus:   jsii.Number(props.MaxVCPUs),
	})
	onDemand := awsbatch.NewFargateComputeEnvironment(st, str("Fargate"), &awsbatch.FargateComputeEnvironmentProps{
		Vpc:        vpc,
		VpcSubnets: public,
		Spot:       jsii.Bool(false),
		MaxvCpus:   jsii.Number(props.MaxVCPUs),
	})
	queue := awsbatch.NewJobQueue(st, str("Queue"), &awsbatch.JobQueueProps{
		ComputeEnvironments: &[]*awsbatch.OrderedComputeEnvironment{
			{ComputeEnvironment: spot, Order: jsii.Number(1)},
			{ComputeEnvironment: onDemand, Order: jsii.Number(2)},
		},
	})

	// The job role reads inputs and manifests and writes outputs; nothing else.
	jobRole := awsiam.NewRole(st, str("JobRole"), &awsiam.RoleProps{
		Description: str("mlserve batch job: read input/ and manifests/, write output/"),
		AssumedBy:   awsiam.NewServicePrincipal(str("ecs-tasks.amazonaws.com"), nil),
	})
	jobRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       str("ReadInputsAndManifests"),
		Actions:   jsii.Strings("s3:GetObject"),
		Resources: &[]*string{bucket.ArnForObjects(str(InputPrefix + "*")), bucket.ArnForObjects(str(ManifestPrefix + "*"))},
	}))
	jobRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: str("WriteOutputs"),
		// GetObject too: a re-run (after a Spot interruption) skips what is done.
		Actions:   jsii.Strings("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"),
		Resources: &[]*string{bucket.ArnForObjects(str(OutputPrefix + "*"))},
	}))
	// ListBucket makes a missing object a 404 rather than a 403 (the batch
	// runner stats outputs to resume) and lets a job take an input prefix.
	// The bucket holds only mlserve's prefixes.
	jobRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       str("ListBucket"),
		Actions:   jsii.Strings("s3:ListBucket"),
		Resources: &[]*string{bucket.BucketArn()},
	}))
	// The execution role lets ECS pull the image and write the logs.
	execRole := awsiam.NewRole(st, str("JobExecutionRole"), &awsiam.RoleProps{
		Description: str("mlserve batch job: pull the image, write logs"),
		AssumedBy:   awsiam.NewServicePrincipal(str("ecs-tasks.amazonaws.com"), nil),
	})

	jobDef := awsbatch.NewEcsJobDefinition(st, str("Job"), &awsbatch.EcsJobDefinitionProps{
		Container: awsbatch.NewEcsFargateContainerDefinition(st, str("JobContainer"), &awsbatch.EcsFargateContainerDefinitionProps{
			Image:          awsecs.ContainerImage_FromDockerImageAsset(image),
			Cpu:            jsii.Number(props.JobVCPU),
			Memory:         awscdk.Size_Mebibytes(jsii.Number(props.JobMemoryMiB)),
			Command:        jsii.Strings(JobCommand...),
			AssignPublicIp: jsii.Bool(true),
			JobRole:        jobRole,
			ExecutionRole:  execRole,
			Environment: &map[string]*string{
				"MLSERVE_MODEL":      str(ModelPath),
				"MLSERVE_LOG_FORMAT": str("json"),
			},
			Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
				StreamPrefix: str("mlserve"),
				LogGroup:     logGroup("Job"),
			}),
		}),
		Parameters: &map[string]any{
			// Defaults for a job submitted by hand (aws batch submit-job
			// --parameters); the submitter overrides the whole command.
			"manifest": *bucket.S3UrlForObject(str(ManifestPrefix + "manifest.txt")),
			"output":   *bucket.S3UrlForObject(str(OutputPrefix)),
		},
		Timeout:       awscdk.Duration_Seconds(jsii.Number(props.JobTimeout.Seconds())),
		RetryAttempts: jsii.Number(props.JobAttempts),
		// Batch takes the first match; a failure that matches none is retried.
		RetryStrategies: &[]awsbatch.RetryStrategy{
			awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_SPOT_INSTANCE_RECLAIMED()),
			awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_Custom(&awsbatch.CustomReason{OnExitCode: str(exitInterrupted)})),
			awsbatch.RetryStrategy_Of(awsbatch.Action_EXIT, awsbatch.Reason_Custom(&awsbatch.CustomReason{OnExitCode: str(exitFailures)})),
			awsbatch.RetryStrategy_Of(awsbatch.Action_EXIT, awsbatch.Reason_Custom(&awsbatch.CustomReason{OnExitCode: str(exitUsage)})),
		},
		PropagateTags: jsii.Bool(true),
	})

	// submitter: turns uploads under input/ into Batch jobs. It may write
	// manifests and submit to this queue with this definition, nothing more.
	submitter := awslambda.NewDockerImageFunction(st, str("Submitter"), &awslambda.DockerImageFunctionProps{
		Description: str("mlserve submitter: submit an AWS Batch job for new uploads under " + InputPrefix),
		Code: awslambda.DockerImageCode_FromEcr(image.Repository(), &awslambda.EcrImageCodeProps{
			TagOrDigest: image.ImageTag(),
			Cmd:         jsii.Strings("lambda"),
		}),
		Architecture: awslambda.Architecture_X86_64(),
		MemorySize:   jsii.Number(props.SubmitterMemoryMiB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(60)),
		LogGroup:     logGroup("Submitter"),
		Environment: &map[string]*string{
			"MLSERVE_JOB_QUEUE":       queue.JobQueueArn(),
			"MLSERVE_JOB_DEFINITION":  jobDef.JobDefinitionArn(),
			"MLSERVE_JOB_NAME_PREFIX": str("mlserve"),
			"MLSERVE_INPUT_PREFIX":    str(InputPrefix),
			"MLSERVE_OUTPUT_PREFIX":   str(OutputPrefix),
			"MLSERVE_LOG_FORMAT":      str("json"),
			"MLSERVE_SUBMIT_ONLY":     str("true"),
		},
	})
	submitter.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       str("SubmitToThisQueue"),
		Actions:   jsii.Strings("batch:SubmitJob"),
		Resources: &[]*string{queue.JobQueueArn(), jobDef.JobDefinitionArn()},
	}))
	// The submitter tags its jobs (app, trigger, bucket): tagging on
	// creation needs TagResource, limited to SubmitJob.
	submitter.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     str("TagSubmittedJobs"),
		Actions: jsii.Strings("batch:TagResource"),
		Resources: &[]*string{st.FormatArn(&awscdk.ArnComponents{
			Service: str("batch"), Resource: str("job"), ResourceName: str("*"),
			ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
		})},
		Conditions: &map[string]any{"StringEquals": map[string]any{"batch:CreateAction": "SubmitJob"}},
	}))
	submitter.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       str("WriteManifests"),
		Actions:   jsii.Strings("s3:PutObject"),
		Resources: &[]*string{bucket.ArnForObjects(str(ManifestPrefix + "*"))},
	}))
	bucket.AddEventNotification(awss3.EventType_OBJECT_CREATED,
		awss3notifications.NewLambdaDestination(submitter),
		&awss3.NotificationKeyFilter{Prefix: str(InputPrefix)})

	predictURL := fmt.Sprintf("%spredict", *api.Url())
	out := func(id, value, desc string) {
		awscdk.NewCfnOutput(st, str(id), &awscdk.CfnOutputProps{Value: str(value), Description: str(desc)})
	}
	out("ApiUrl", *api.Url(), "HTTP API base URL")
	out("PredictUrl", predictURL, "POST an image here")
	out("BucketName", *bucket.BucketName(), "bucket: upload to input/, results appear under output/")
	out("CurlExample", fmt.Sprintf("curl -sS --data-binary @dog.jpg -H 'Content-Type: image/jpeg' %s", predictURL), "classify one image")
	out("BatchInputExample", fmt.Sprintf("aws s3 cp ./images/ s3://%s/%s --recursive", *bucket.BucketName(), InputPrefix), "start batch jobs by uploading images")
	out("OutputsExample", fmt.Sprintf("aws s3 ls s3://%s/%s --recursive", *bucket.BucketName(), OutputPrefix), "list the results")
	out("JobQueueArn", *queue.JobQueueArn(), "AWS Batch job queue")
	out("JobDefinitionArn", *jobDef.JobDefinitionArn(), "AWS Batch job definition")
	if props.FunctionURL {
		fu := predict.AddFunctionUrl(&awslambda.FunctionUrlOptions{AuthType: awslambda.FunctionUrlAuthType_AWS_IAM})
		out("FunctionUrl", *fu.Url(), "predict Function URL (IAM auth: sign requests with SigV4)")
	}
	return st, nil
}
