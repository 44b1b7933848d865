package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"

	"github.com/mlserve/mlserve/deploy/stack"
)

func TestMain(m *testing.M) {
	// The jsii kernel runs on the machine's Node.js; it starts on first use.
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	os.Exit(m.Run())
}

func TestPropsFromContext(t *testing.T) {
	tests := []struct {
		name    string
		ctx     map[string]any
		check   func(t *testing.T, p stack.Props)
		wantErr string
	}{
		{
			name: "defaults",
			ctx:  map[string]any{},
			check: func(t *testing.T, p stack.Props) {
				if p.PredictMemoryMiB != 3008 || p.FunctionURL || p.DestroyBucket {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "cdk.json types",
			ctx: map[string]any{"predictMemory": 2048.0, "functionUrl": true, "jobVcpu": 2.0,
				"jobTimeout": "90m", "logRetention": "ONE_WEEK"},
			check: func(t *testing.T, p stack.Props) {
				if p.PredictMemoryMiB != 2048 || !p.FunctionURL || p.JobVCPU != 2 ||
					p.JobTimeout != 90*time.Minute || p.LogRetention != awslogs.RetentionDays_ONE_WEEK {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "-c strings",
			ctx:  map[string]any{"predictMemory": "4096", "destroyBucket": "true", "maxVcpus": "256"},
			check: func(t *testing.T, p stack.Props) {
				if p.PredictMemoryMiB != 4096 || !p.DestroyBucket || p.MaxVCPUs != 256 {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "every new setting",
			ctx: map[string]any{"architecture": "ARM64", "auth": "jwt", "jwtIssuer": "https://id.example.com/",
				"jwtAudience": "a, b", "corsOrigins": "https://x.example.com", "throttleRate": "5", "throttleBurst": 7.0,
				"predictConcurrency": "0", "submitterConcurrency": 10.0, "submitterTimeout": "10m", "batchWindow": 120.0,
				"batchSize": "500", "maxReceives": "3", "imagesPerChild": "1000", "directMax": 0.0,
				"sweepSchedule": "rate(6 hours)", "flowLogs": "false", "accessLogDays": "30",
				"alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"},
			check: func(t *testing.T, p stack.Props) {
				want := stack.Defaults()
				want.Architecture, want.Auth, want.JWTIssuer = stack.ARM64, stack.AuthJWT, "https://id.example.com/"
				want.JWTAudience, want.CORSOrigins = []string{"a", "b"}, []string{"https://x.example.com"}
				want.ThrottleRate, want.ThrottleBurst = 5, 7
				want.PredictConcurrency, want.SubmitterConcurrency = -1, 10 // 0: no reservation
				want.SubmitterTimeout, want.BatchWindow = 10*time.Minute, 2*time.Minute
				want.BatchSize, want.MaxReceives, want.ImagesPerChild, want.DirectMax = 500, 3, 1000, -1
				want.SweepSchedule, want.NoFlowLogs, want.AccessLogDays = "rate(6 hours)", true, 30
				want.AlarmTopicARN = "arn:aws:sns:eu-west-1:123456789012:ops"
				if !reflect.DeepEqual(p, want) {
					t.Errorf("got  %+v\nwant %+v", p, want)
				}
			},
		},
		{name: "bad number", ctx: map[string]any{"predictMemory": "lots"}, wantErr: "predictMemory"},
		{name: "fractional count", ctx: map[string]any{"batchSize": 2.5}, wantErr: "batchSize"},
		{name: "bad window", ctx: map[string]any{"batchWindow": "later"}, wantErr: "batchWindow"},
		{name: "list as a number", ctx: map[string]any{"corsOrigins": 3.0}, wantErr: "corsOrigins"},
		{name: "bad bool", ctx: map[string]any{"functionUrl": "yes please"}, wantErr: "functionUrl"},
		{name: "bad duration", ctx: map[string]any{"jobTimeout": "soon"}, wantErr: "jobTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := propsFromContext(func(k string) any { return tt.ctx[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
		})
	}
}

// TestCDKJSONIsTheDefaults keeps cdk.json's context, which users read and
// edit, equal to the stack's defaults.
func TestCDKJSONIsTheDefaults(t *testing.T) {
	raw, err := os.ReadFile("cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ Context map[string]any }
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	got, err := propsFromContext(func(k string) any { return cfg.Context[k] })
	if err != nil {
		t.Fatal(err)
	}
	if want := stack.Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("cdk.json context:\n got %+v\nwant %+v", got, want)
	}
}

// TestCDKSynth runs the pinned CDK CLI (npm ci in deploy/) the way a user
// does, with no AWS credentials and no network: synth must need neither.
func TestCDKSynth(t *testing.T) {
	if testing.Short() {
		t.Skip("cdk synth builds the app: skipped with -short")
	}
	cdk, err := filepath.Abs(filepath.Join("node_modules", ".bin", "cdk"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cdk); err != nil {
		if os.Getenv("CI") != "" { // any non-empty CI means CI, as internal/testsupport.CI
			t.Fatalf("CDK CLI missing (run npm ci in deploy/): %v", err)
		}
		t.Skipf("CDK CLI missing (run npm ci in deploy/): %v", err)
	}
	out := t.TempDir()
	home := t.TempDir() // no ~/.aws: no credentials, no profile
	cmd := exec.Command(cdk, "synth", "--quiet", "--output", out, "-c", "functionUrl=true")
	// A fresh HOME would also move Go's caches: keep them.
	goenv, err := exec.Command("go", "env", "GOPATH", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	dirs := strings.Fields(string(goenv))
	if len(dirs) != 3 {
		t.Fatalf("go env: %q", goenv)
	}
	cmd.Env = append(cleanEnv(),
		"HOME="+home,
		"GOPATH="+dirs[0], "GOCACHE="+dirs[1], "GOMODCACHE="+dirs[2],
		"CDK_DISABLE_VERSION_CHECK=1",
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20",
		"AWS_EC2_METADATA_DISABLED=true",
		"CDK_DISABLE_CLI_TELEMETRY=true",
	)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cdk synth: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(filepath.Join(out, "MLServe.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct{ Type string }
		Outputs   map[string]any
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range tmpl.Resources {
		counts[r.Type]++
	}
	for typ, want := range map[string]int{
		"AWS::S3::Bucket":                 2, // data and access logs
		"AWS::SQS::Queue":                 2, // ingest and its DLQ
		"AWS::Lambda::EventSourceMapping": 1,
		"AWS::CloudWatch::Alarm":          1,
		"AWS::Events::Rule":               1, // uploads -> the ingest queue (no sweep by default)
		"AWS::EC2::FlowLog":               1,
		"AWS::Batch::JobQueue":            1,
		"AWS::Batch::ComputeEnvironment":  2,
		"AWS::Batch::JobDefinition":       1,
		"AWS::ApiGatewayV2::Api":          1,
		"AWS::ApiGatewayV2::Authorizer":   0, // IAM needs none
		"AWS::Lambda::Url":                1,
		"Custom::S3BucketNotifications":   1,
		"AWS::EC2::NatGateway":            0,
	} {
		if counts[typ] != want {
			t.Errorf("%s: got %d, want %d", typ, counts[typ], want)
		}
	}
	for _, o := range []string{"PredictUrl", "BucketName", "CurlExample", "BatchInputExample", "FunctionUrl", "DeadLetterQueueUrl"} {
		if _, ok := tmpl.Outputs[o]; !ok {
			t.Errorf("no output %s", o)
		}
	}
	// The AwsSolutions report lands beside the template, and says every
	// rule is compliant or suppressed.
	reports, _ := filepath.Glob(filepath.Join(out, "AwsSolutions-*MLServe-NagReport.csv"))
	if len(reports) != 1 {
		t.Fatalf("nag reports: got %v, want one", reports)
	}
	report, err := os.ReadFile(reports[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), `"Compliant"`) || strings.Contains(string(report), "Non-Compliant") {
		t.Errorf("nag report:\n%s", report)
	}
}

// cleanEnv is the environment without AWS credentials or profiles.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "CDK_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return env
}
