package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Nag applies AWS's AwsSolutions rule pack to everything under scope (the
// app) as an aspect. Synth then reports every unsuppressed finding as an
// error or warning annotation and writes AwsSolutions-<stack>-NagReport.csv
// into the app's output directory (deploy/cdk.out for `cdk synth`).
func Nag(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose: jsii.Bool(true),
		Reports: jsii.Bool(true),
	}), nil)
}

// suppress records that rule is right to fail on c (and its children, for
// a role: its default policy) for reason. appliesTo, when given, narrows
// the suppression to those findings, e.g. one wildcard resource: each is a
// finding string or a cdknag.RegexAppliesTo.
func suppress(c constructs.IConstruct, rule, reason string, appliesTo ...any) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		s.AppliesTo = &appliesTo
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// suppressPrefixes allows the object wildcards under prefixes of bucket on
// c: "every object under input/" is what the role needs, and a prefix
// wildcard is the narrowest grant S3 has for keys not known in advance.
func (b *builder) suppressPrefixes(c constructs.IConstruct, bucket awss3.Bucket, reason string, prefixes ...string) {
	id := *b.st.GetLogicalId(bucket.Node().DefaultChild().(awscdk.CfnElement))
	var at []any
	for _, p := range prefixes {
		at = append(at, "Resource::<"+id+".Arn>/"+p+"*")
	}
	suppress(c, "AwsSolutions-IAM5", reason+" (object keys are not known in advance)", at...)
}

// bucketNotificationsHandler is the id of the singleton function CDK adds
// to a stack to configure bucket notifications.
const bucketNotificationsHandler = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"

// suppressCDKInternals covers the helper functions CDK itself adds: they
// run only during deployment, and their code and role are CDK's.
func suppressCDKInternals(st awscdk.Stack) {
	if h := st.Node().TryFindChild(jsii.String(bucketNotificationsHandler)); h != nil {
		suppress(h, "AwsSolutions-IAM4",
			"CDK's bucket-notifications helper runs only at deployment, with the basic execution policy for its logs",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
	}
}
