package stack

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// suppressedAlways are the AwsSolutions findings every variant suppresses,
// as "rule path [appliesTo]"; deploy/README.md lists them with their
// reasons. The bucket's logical id is replaced by <Bucket>.
var suppressedAlways = []string{
	"AwsSolutions-IAM4 MLServe/BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Role/Resource [Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
	"AwsSolutions-IAM5 MLServe/JobExecutionRole/DefaultPolicy/Resource [Resource::*]",
	"AwsSolutions-IAM5 MLServe/JobRole/DefaultPolicy/Resource [Resource::<Bucket>/input/*]",
	"AwsSolutions-IAM5 MLServe/JobRole/DefaultPolicy/Resource [Resource::<Bucket>/manifests/*]",
	"AwsSolutions-IAM5 MLServe/JobRole/DefaultPolicy/Resource [Resource::<Bucket>/output/*]",
	"AwsSolutions-IAM5 MLServe/PredictRole/DefaultPolicy/Resource [Resource::<Bucket>/uploads/*]",
	"AwsSolutions-IAM5 MLServe/SubmitterRole/DefaultPolicy/Resource [Resource::<Bucket>/input/*]",
	"AwsSolutions-IAM5 MLServe/SubmitterRole/DefaultPolicy/Resource [Resource::<Bucket>/manifests/*]",
	"AwsSolutions-IAM5 MLServe/SubmitterRole/DefaultPolicy/Resource [Resource::<Bucket>/output/*]",
	"AwsSolutions-IAM5 MLServe/SubmitterRole/DefaultPolicy/Resource [Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*]",
}

// suppressedByChoice are suppressed only when the option that causes them
// was chosen on purpose.
var suppressedByChoice = map[string][]string{
	"public": {
		"AwsSolutions-APIG4 MLServe/Api/POST--predict/Resource", // auth=public
		"AwsSolutions-APIG4 MLServe/Api/POST--uploads/Resource", // auth=public
		"AwsSolutions-VPC7 MLServe/Vpc/Resource",                // flowLogs=false
	},
}

// TestNag synthesizes every variant with the AwsSolutions pack: no
// finding may be left unsuppressed, the report must say so too, and the
// suppressions are exactly the ones deploy/README.md explains.
func TestNag(t *testing.T) {
	for _, name := range slices.Sorted(mapsKeys(variantsAny())) {
		t.Run(name, func(t *testing.T) {
			s := synth(t, name)
			for _, f := range s.findings {
				t.Errorf("unsuppressed: %s", f)
			}
			if len(s.report) < 2 {
				t.Fatalf("nag report has %d rows", len(s.report))
			}
			head := s.report[0]
			rule, res, comp, reason := slices.Index(head, "Rule ID"), slices.Index(head, "Resource ID"),
				slices.Index(head, "Compliance"), slices.Index(head, "Exception Reason")
			if rule < 0 || res < 0 || comp < 0 || reason < 0 {
				t.Fatalf("nag report header %v lacks a column", head)
			}
			data, _ := s.buckets(t)
			var suppressed []string
			for _, row := range s.report[1:] {
				switch row[comp] {
				case "Non-Compliant":
					t.Errorf("non-compliant: %v", row)
				case "Suppressed":
					entry := row[rule] + " " + row[res]
					if at, _, ok := strings.Cut(row[reason], "] "); ok && strings.HasPrefix(at, "[") {
						entry += " " + strings.ReplaceAll(at, "<"+data+".Arn>", "<Bucket>") + "]"
					}
					if !slices.Contains(suppressed, entry) { // the report lists a finding once per synth
						suppressed = append(suppressed, entry)
					}
				}
			}
			want := append(slices.Clone(suppressedAlways), suppressedByChoice[name]...)
			slices.Sort(want)
			slices.Sort(suppressed)
			if !slices.Equal(suppressed, want) {
				t.Errorf("suppressions:\n got %s\nwant %s", strings.Join(suppressed, "\n     "), strings.Join(want, "\n     "))
			}
		})
	}
}

// TestNagCountInReadme keeps deploy/README.md's count of suppressions true.
func TestNagCountInReadme(t *testing.T) {
	readme := readFile(t, "../README.md")
	n := len(suppressedAlways)
	for _, v := range suppressedByChoice {
		n += len(v)
	}
	if want := fmt.Sprintf("%d suppressions", n); !strings.Contains(readme, want) {
		t.Errorf("deploy/README.md does not say %q", want)
	}
	for _, e := range append(slices.Clone(suppressedAlways), suppressedByChoice["public"]...) {
		if path := strings.Fields(e)[1]; !strings.Contains(readme, strings.TrimPrefix(path, "MLServe/")) {
			t.Errorf("deploy/README.md does not name %s", path)
		}
	}
}

func variantsAny() map[string]any {
	m := map[string]any{}
	for k, v := range variants {
		m[k] = v
	}
	return m
}

// TestNagCatches is the control for TestNag: a queue without a DLQ or
// TLS enforcement added to the stack must come back as AwsSolutions errors.
func TestNagCatches(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	props := Defaults()
	props.ImageDir = repoRoot(t)
	st, err := New(app, "MLServe", props)
	if err != nil {
		t.Fatal(err)
	}
	awssqs.NewQueue(st, jsii.String("Careless"), nil)
	Nag(app)
	var got []string
	assert(t, "synth", func() {
		app.Synth(nil)
		ann := assertions.Annotations_FromStack(st)
		for _, m := range *ann.FindError(jsii.String("/MLServe/Careless/Resource"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))) {
			got = append(got, fmt.Sprint(m.Entry.Data))
		}
	})
	for _, rule := range []string{"AwsSolutions-SQS3", "AwsSolutions-SQS4"} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, rule) }) {
			t.Errorf("no %s error for a queue without DLQ and TLS; got %v", rule, got)
		}
	}
}
