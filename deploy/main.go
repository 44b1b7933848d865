// Command deploy is mlserve's CDK app: `cdk synth` and `cdk deploy` run it
// (see cdk.json). Settings come from CDK context: cdk.json or `-c key=value`.
package main

import (
	"fmt"
	"os"
	"strconv"
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
	ints := []struct {
		key string
		dst *int
	}{
		{"predictMemory", &p.PredictMemoryMiB},
		{"submitterMemory", &p.SubmitterMemoryMiB},
		{"jobMemory", &p.JobMemoryMiB},
		{"maxVcpus", &p.MaxVCPUs},
		{"jobAttempts", &p.JobAttempts},
	}
	for _, f := range ints {
		v, ok, err := number(get(f.key))
		if err != nil {
			return p, fmt.Errorf("context %s: %w", f.key, err)
		}
		if ok {
			*f.dst = int(v)
		}
	}
	if v, ok, err := number(get("jobVcpu")); err != nil {
		return p, fmt.Errorf("context jobVcpu: %w", err)
	} else if ok {
		p.JobVCPU = v
	}
	if s, ok := get("logRetention").(string); ok && s != "" {
		p.LogRetention = awslogs.RetentionDays(s) // e.g. ONE_WEEK, TWO_WEEKS, ONE_MONTH
	}
	if s, ok := get("jobTimeout").(string); ok && s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return p, fmt.Errorf("context jobTimeout: %w", err)
		}
		p.JobTimeout = d
	}
	for _, f := range []struct {
		key string
		dst *bool
	}{
		{"functionUrl", &p.FunctionURL},
		{"destroyBucket", &p.DestroyBucket},
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
	if s, ok := get("imageDir").(string); ok && s != "" {
		p.ImageDir = s
	}
	return p, nil
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
