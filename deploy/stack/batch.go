package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

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

type batchParts struct {
	queue  awsbatch.JobQueue
	jobDef awsbatch.EcsJobDefinition
}

// batch: Fargate Spot first, on-demand Fargate when Spot has no capacity
// (on-demand only for arm64: Fargate Spot runs x86_64 alone). Public
// subnets with public IPs reach ECR, S3 and CloudWatch without NAT
// gateways; the S3 gateway endpoint keeps bucket traffic inside the VPC.
func (b *builder) batch(bucket awss3.Bucket) batchParts {
	vpc := awsec2.NewVpc(b.st, b.str("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name:       b.str("public"),
			SubnetType: awsec2.SubnetType_PUBLIC,
			CidrMask:   jsii.Number(20),
		}},
	})
	vpc.AddGatewayEndpoint(b.str("S3"), &awsec2.GatewayVpcEndpointOptions{
		Service: awsec2.GatewayVpcEndpointAwsService_S3(),
	})
	if b.props.NoFlowLogs {
		suppress(vpc, "AwsSolutions-VPC7", "flow logs were turned off on purpose at deploy time (-c flowLogs=false)")
	} else {
		vpc.AddFlowLog(b.str("FlowLog"), &awsec2.FlowLogOptions{
			Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(b.logGroup("Flow"), nil),
			TrafficType: awsec2.FlowLogTrafficType_ALL,
		})
	}
	public := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}
	env := func(id string, spot bool) awsbatch.FargateComputeEnvironment {
		return awsbatch.NewFargateComputeEnvironment(b.st, b.str(id), &awsbatch.FargateComputeEnvironmentProps{
			Vpc:        vpc,
			VpcSubnets: public,
			Spot:       jsii.Bool(spot),
			MaxvCpus:   jsii.Number(b.props.MaxVCPUs),
		})
	}
	var order []*awsbatch.OrderedComputeEnvironment
	if b.props.Architecture == X86_64 {
		order = append(order, &awsbatch.OrderedComputeEnvironment{ComputeEnvironment: env("FargateSpot", true), Order: jsii.Number(1)})
	}
	order = append(order, &awsbatch.OrderedComputeEnvironment{ComputeEnvironment: env("Fargate", false), Order: jsii.Number(len(order) + 1)})
	queue := awsbatch.NewJobQueue(b.st, b.str("Queue"), &awsbatch.JobQueueProps{ComputeEnvironments: &order})
	return batchParts{queue: queue, jobDef: b.jobDefinition(bucket)}
}

// objects is the ARN pattern of the objects under prefix: a wildcard, and
// the narrowest one S3 has.
func objects(bucket awss3.IBucket, prefix string) *string {
	return bucket.ArnForObjects(jsii.String(prefix + "*"))
}

// jobRole reads inputs and manifests and writes outputs; nothing else.
func (b *builder) jobRole(bucket awss3.Bucket) awsiam.Role {
	role := awsiam.NewRole(b.st, b.str("JobRole"), &awsiam.RoleProps{
		Description: b.str("mlserve batch job: read input/ and manifests/, write output/"),
		AssumedBy:   awsiam.NewServicePrincipal(b.str("ecs-tasks.amazonaws.com"), nil),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       b.str("ReadInputsAndManifests"),
		Actions:   jsii.Strings("s3:GetObject"),
		Resources: &[]*string{objects(bucket, InputPrefix), objects(bucket, ManifestPrefix)},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: b.str("WriteOutputs"),
		// GetObject too: a re-run (after a Spot interruption) skips what is done.
		Actions:   jsii.Strings("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"),
		Resources: &[]*string{objects(bucket, OutputPrefix)},
	}))
	// ListBucket makes a missing object a 404 rather than a 403 (the batch
	// runner stats outputs to resume) and lets a job take an input prefix.
	// The bucket holds only mlserve's prefixes.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       b.str("ListBucket"),
		Actions:   jsii.Strings("s3:ListBucket"),
		Resources: &[]*string{bucket.BucketArn()},
	}))
	b.suppressPrefixes(role, bucket, "the job reads every input and manifest and writes every result under its prefix",
		InputPrefix, ManifestPrefix, OutputPrefix)
	return role
}

func (b *builder) jobDefinition(bucket awss3.Bucket) awsbatch.EcsJobDefinition {
	// The execution role lets ECS pull the image and write the logs.
	execRole := awsiam.NewRole(b.st, b.str("JobExecutionRole"), &awsiam.RoleProps{
		Description: b.str("mlserve batch job: pull the image, write logs"),
		AssumedBy:   awsiam.NewServicePrincipal(b.str("ecs-tasks.amazonaws.com"), nil),
	})
	arch := awsecs.CpuArchitecture_X86_64()
	if b.props.Architecture == ARM64 {
		arch = awsecs.CpuArchitecture_ARM64()
	}
	defer suppress(execRole, "AwsSolutions-IAM5",
		"ecr:GetAuthorizationToken supports only Resource *; the image pull itself is limited to the CDK asset repository",
		"Resource::*")
	return awsbatch.NewEcsJobDefinition(b.st, b.str("Job"), &awsbatch.EcsJobDefinitionProps{
		Container: awsbatch.NewEcsFargateContainerDefinition(b.st, b.str("JobContainer"), &awsbatch.EcsFargateContainerDefinitionProps{
			Image:                        awsecs.ContainerImage_FromDockerImageAsset(b.image),
			Cpu:                          jsii.Number(b.props.JobVCPU),
			Memory:                       awscdk.Size_Mebibytes(jsii.Number(b.props.JobMemoryMiB)),
			Command:                      jsii.Strings(JobCommand...),
			AssignPublicIp:               jsii.Bool(true),
			FargateCpuArchitecture:       arch,
			FargateOperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
			JobRole:                      b.jobRole(bucket),
			ExecutionRole:                execRole,
			Environment: &map[string]*string{
				"MLSERVE_MODEL":      b.str(ModelPath),
				"MLSERVE_LOG_FORMAT": b.str("json"),
			},
			Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
				StreamPrefix: b.str("mlserve"),
				LogGroup:     b.logGroup("Job"),
			}),
		}),
		Parameters: &map[string]any{
			// Defaults for a job submitted by hand (aws batch submit-job
			// --parameters); the submitter overrides the whole command.
			"manifest": *bucket.S3UrlForObject(b.str(ManifestPrefix + "manifest.txt")),
			"output":   *bucket.S3UrlForObject(b.str(OutputPrefix)),
		},
		Timeout:       b.seconds(b.props.JobTimeout),
		RetryAttempts: jsii.Number(b.props.JobAttempts),
		// Batch takes the first match; a failure that matches none is retried.
		RetryStrategies: &[]awsbatch.RetryStrategy{
			awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_SPOT_INSTANCE_RECLAIMED()),
			awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_Custom(&awsbatch.CustomReason{OnExitCode: b.str(exitInterrupted)})),
			awsbatch.RetryStrategy_Of(awsbatch.Action_EXIT, awsbatch.Reason_Custom(&awsbatch.CustomReason{OnExitCode: b.str(exitFailures)})),
			awsbatch.RetryStrategy_Of(awsbatch.Action_EXIT, awsbatch.Reason_Custom(&awsbatch.CustomReason{OnExitCode: b.str(exitUsage)})),
		},
		PropagateTags: jsii.Bool(true),
	})
}
