package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestLambdaFlags(t *testing.T) {
	t.Setenv("MLSERVE_TOP_K", "3")
	t.Setenv("MLSERVE_JOB_QUEUE", "q-env")
	t.Setenv("MLSERVE_INPUT_PREFIX", "in/")
	t.Setenv("MLSERVE_IMAGES_PER_CHILD", "100")
	t.Setenv("MLSERVE_BUCKET", "photos")
	var got lambdaOptions
	run := func(_ context.Context, o lambdaOptions) error { got = o; return nil }
	for _, tc := range []struct {
		args []string
		want func(lambdaOptions) bool
		code int
	}{
		{nil, func(o lambdaOptions) bool {
			return o.TopK == 3 && o.JobQueue == "q-env" && o.InputPrefix == "in/" && o.OutputPrefix == "output/" && o.JobNamePrefix == "mlserve" &&
				o.Scale.ImagesPerChild == 100 && o.Scale.DirectMax == 5 && o.Scale.Bucket == "photos"
		}, 0},
		{[]string{"--images-per-child", "7", "--direct-max", "0", "--bucket", "b2"}, func(o lambdaOptions) bool {
			return o.Scale.ImagesPerChild == 7 && o.Scale.DirectMax == 0 && o.Scale.Bucket == "b2"
		}, 0},
		{[]string{"--images-per-child", "0"}, nil, ExitUsage},
		{[]string{"--direct-max", "-1"}, nil, ExitUsage},
		{[]string{"--job-queue", "q-flag", "-k", "7", "--model", "m.onnx"}, func(o lambdaOptions) bool {
			return o.TopK == 7 && o.JobQueue == "q-flag" && o.Model == "m.onnx"
		}, 0},
		{[]string{"--top-k", "0"}, nil, ExitUsage},
		{[]string{"extra"}, nil, ExitUsage},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got = lambdaOptions{}
			cmd := newLambdaCmdWith(IO{Out: io.Discard, Err: io.Discard}, run)
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError{err} })
			err := cmd.Execute()
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tc.code)
			}
			if tc.want != nil && !tc.want(got) {
				t.Fatalf("options %+v", got)
			}
		})
	}
}

func TestLambdaOutsideLambda(t *testing.T) {
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
	var stderr bytes.Buffer
	code := Run(context.Background(), []string{"lambda"}, IO{In: strings.NewReader(""), Out: io.Discard, Err: &stderr})
	if code != ExitUsage || !strings.Contains(stderr.String(), "AWS_LAMBDA_RUNTIME_API") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// A bad value of a batch-path variable is a usage error naming it, for the
// lambda submitter and for `mlserve submit` alike.
func TestScaleVariablesBad(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"MLSERVE_IMAGES_PER_CHILD", "many"},
		{"MLSERVE_IMAGES_PER_CHILD", "0"},
		{"MLSERVE_DIRECT_MAX", "-1"},
	} {
		for _, args := range [][]string{{"lambda"}, {"submit", "--input", "s3://b/input/", "--dry-run"}} {
			t.Run(tc.name+"="+tc.value+" "+args[0], func(t *testing.T) {
				t.Setenv(tc.name, tc.value)
				var stderr bytes.Buffer
				code := Run(context.Background(), args, IO{In: strings.NewReader(""), Out: io.Discard, Err: &stderr})
				if code != ExitUsage || !strings.Contains(stderr.String(), tc.name) {
					t.Fatalf("exit %d, stderr %q: want a usage error naming %s", code, stderr.String(), tc.name)
				}
			})
		}
	}
}
