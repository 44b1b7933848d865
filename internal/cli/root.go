// Package cli is mlserve's cobra command tree: one file per command, each
// with an options struct and a runX(ctx, opts) function.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/envconfig"
	"github.com/mlserve/mlserve/internal/gemm"
)

// Version is set at build time with -ldflags "-X github.com/mlserve/mlserve/internal/cli.Version=...".
var Version = "dev"

// Exit codes, documented in the README.
const (
	ExitOK          = 0
	ExitFailure     = 1 // some inputs failed (or failures over --max-failures)
	ExitUsage       = 2 // bad flags or arguments
	ExitInterrupted = 3 // stopped by a signal; re-running resumes
)

// ExitError carries a specific exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// usageErrorf reports a usage error (exit 2).
func usageErrorf(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// IO holds the streams commands use, so tests can capture them.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs mlserve with os.Args and returns the process exit code.
func Main() int {
	args := os.Args[1:]
	// As `bootstrap` on provided.al2023 the binary runs with no arguments.
	if len(args) == 0 && os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		args = []string{"lambda"}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
}

// Run executes the command line args and returns the exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	if k := envconfig.String("MLSERVE_GEMM_KERNEL"); k != "" {
		if err := gemm.Use(k); err != nil {
			fmt.Fprintf(stdio.Err, "mlserve: MLSERVE_GEMM_KERNEL: %v\n", err)
			return ExitUsage
		}
	}
	root := NewRootCmd(stdio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stdio.Err, "mlserve: %v\n", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if isFlagError(err) {
		return ExitUsage
	}
	return ExitFailure
}

// flagError marks errors that come from cobra's flag and argument parsing.
type flagError struct{ error }

func isFlagError(err error) bool {
	var fe flagError
	return errors.As(err, &fe)
}

// NewRootCmd builds the command tree.
func NewRootCmd(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "mlserve <command>",
		Short:         "Classify images with ResNet-50: CLI, HTTP server, AWS Lambda and AWS Batch",
		Version:       Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError{err} })
	root.AddCommand(
		newClassifyCmd(stdio),
		newModelCmd(stdio),
		newServeCmd(stdio),
		newLambdaCmd(stdio),
		newBatchCmd(stdio),
		newSubmitCmd(stdio),
	)
	markArgErrors(root)
	root.SetUsageTemplate(root.UsageTemplate() + "\nEnvironment variables (flags override them):\n" + envconfig.Help())
	return root
}

// markArgErrors makes every command's positional-argument errors usage
// errors (exit 2), like flag errors.
func markArgErrors(c *cobra.Command) {
	if validate := c.Args; validate != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := validate(cmd, args); err != nil {
				return flagError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markArgErrors(sub)
	}
}
