// Command deploy is mlserve's CDK app: `cdk synth` and `cdk deploy` run it
// (see cdk.json). Settings come from CDK context: cdk.json or `-c key=value`.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/mlserve/mlserve/deploy/stack"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "deploy: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	props, err := propsFromContext(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		return err
	}
	props.StackProps = awscdk.StackProps{
		Description: jsii.String("mlserve: image classification with ResNet-50 on Lambda and AWS Batch"),
		// Account and region come from the CLI's credentials at deploy time;
		// synth needs neither.
		Env: &awscdk.Environment{
			Account: envOrNil("CDK_DEFAULT_ACCOUNT"),
			Region:  envOrNil("CDK_DEFAULT_REGION"),
		},
	}
	name := "MLServe"
	if v, ok := app.Node().TryGetContext(jsii.String("stackName")).(string); ok && v != "" {
		name = v
	}
	if _, err := stack.New(app, name, props); err != nil {
		return err
	}
	// Every synth checks the stack against AWS's AwsSolutions rules and
	// writes the report next to the template.
	stack.Nag(app)
	app.Synth(nil)
	return nil
}

func envOrNil(name string) *string {
	if v := os.Getenv(name); v != "" {
		return jsii.String(v)
	}
	return nil
}

// propsFromContext reads the stack settings from CDK context. Values from
// cdk.json arrive as JSON numbers and booleans, values from -c as strings.
func propsFromContext(get func(key string) any) (stack.Props, error) {
	p := stack.Defaults()
	// off: 0 in context turns the feature off (a negative value in Props).
	ints := []struct {
		key string
		dst *int
		off bool
	}{
		{"predictMemory", &p.PredictMemoryMiB, false},
		{"predictConcurrency", &p.PredictConcurrency, true},
		{"throttleBurst", &p.ThrottleBurst, false},
		{"submitterMemory", &p.SubmitterMemoryMiB, false},
		{"submitterConcurrency", &p.SubmitterConcurrency, true},
		{"batchSize", &p.BatchSize, false},
		{"maxReceives", &p.MaxReceives, false},
		{"imagesPerChild", &p.ImagesPerChild, false},
		{"directMax", &p.DirectMax, true},
		{"accessLogDays", &p.AccessLogDays, false},
		{"jobMemory", &p.JobMemoryMiB, false},
		{"maxVcpus", &p.MaxVCPUs, false},
		{"jobAttempts", &p.JobAttempts, false},
	}
	for _, f := range ints {
		v, ok, err := number(get(f.key))
		if err != nil {
			return p, fmt.Errorf("context %s: %w", f.key, err)
		}
		switch {
		case !ok:
		case v != float64(int(v)):
			return p, fmt.Errorf("context %s: %v: want a whole number", f.key, v)
		case f.off && v == 0:
			*f.dst = -1
		default:
			*f.dst = int(v)
		}
	}
	for _, f := range []struct {
		key string
		dst *float64
	}{{"jobVcpu", &p.JobVCPU}, {"throttleRate", &p.ThrottleRate}} {
		if v, ok, err := number(get(f.key)); err != nil {
			return p, fmt.Errorf("context %s: %w", f.key, err)
		} else if ok {
			*f.dst = v
		}
	}
	if err := stringsFromContext(get, &p); err != nil {
		return p, err
	}
	for _, f := range []struct {
		key string
		dst *time.Duration
	}{{"jobTimeout", &p.JobTimeout}, {"submitterTimeout", &p.SubmitterTimeout}, {"batchWindow", &p.BatchWindow}} {
		if err := duration(get(f.key), f.dst); err != nil {
			return p, fmt.Errorf("context %s: %w", f.key, err)
		}
	}
	flowLogs := true
	for _, f := range []struct {
		key string
		dst *bool
	}{
		{"functionUrl", &p.FunctionURL},
		{"destroyBucket", &p.DestroyBucket},
		{"flowLogs", &flowLogs},
	} {
		switch v := get(f.key).(type) {
		case nil:
		case bool:
			*f.dst = v
		case string:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return p, fmt.Errorf("context %s: %w", f.key, err)
			}
			*f.dst = b
		default:
			return p, fmt.Errorf("context %s: want true or false, got %v", f.key, v)
		}
	}
	p.NoFlowLogs = !flowLogs
	return p, nil
}

// stringsFromContext reads the settings that are words or lists of words
// (comma-separated).
func stringsFromContext(get func(key string) any, p *stack.Props) error {
	str := func(key string) (string, error) {
		switch v := get(key).(type) {
		case nil:
			return "", nil
		case string:
			return strings.TrimSpace(v), nil
		default:
			return "", fmt.Errorf("context %s: want a string, got %v", key, v)
		}
	}
	list := func(s string) []string {
		var out []string
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	for _, f := range []struct {
		key string
		set func(string)
	}{
		{"logRetention", func(s string) { p.LogRetention = awslogs.RetentionDays(s) }}, // e.g. ONE_WEEK, TWO_WEEKS, ONE_MONTH
		{"imageDir", func(s string) { p.ImageDir = s }},
		{"architecture", func(s string) { p.Architecture = stack.Architecture(strings.ToLower(s)) }},
		{"auth", func(s string) { p.Auth = stack.Auth(strings.ToLower(s)) }},
		{"jwtIssuer", func(s string) { p.JWTIssuer = s }},
		{"jwtAudience", func(s string) { p.JWTAudience = list(s) }},
		{"corsOrigins", func(s string) { p.CORSOrigins = list(s) }},
		{"sweepSchedule", func(s string) { p.SweepSchedule = s }},
		{"alarmTopicArn", func(s string) { p.AlarmTopicARN = s }},
	} {
		s, err := str(f.key)
		if err != nil {
			return err
		}
		if s != "" {
			f.set(s)
		}
	}
	return nil
}

// duration reads a Go duration ("90m") or a number of seconds into *dst.
func duration(v any, dst *time.Duration) error {
	if s, ok := v.(string); ok {
		if d, err := time.ParseDuration(s); err == nil {
			*dst = d
			return nil
		}
	}
	f, ok, err := number(v)
	if err != nil {
		return fmt.Errorf("%v: want a duration such as 30s or 4h, or seconds", v)
	}
	if ok {
		*dst = time.Duration(f * float64(time.Second))
	}
	return nil
}

func number(v any) (float64, bool, error) {
	switch v := v.(type) {
	case nil:
		return 0, false, nil
	case float64:
		return v, true, nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%q: not a number", v)
		}
		return f, true, nil
	default:
		return 0, false, fmt.Errorf("want a number, got %v", v)
	}
}
