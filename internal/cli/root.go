// Package cli is mlserve's cobra command tree: one file per command, each
// with an options struct and a runX(ctx, opts) function.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/gemm"
	"github.com/mlserve/mlserve/internal/s3io"
)

// Version is set at build time with -ldflags "-X github.com/mlserve/mlserve/internal/cli.Version=...".
var Version = "dev"

// IO holds the streams commands use, so tests can capture them, and the
// environment's configuration.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// Env is every MLSERVE_* variable, read once by Run; nil reads the
	// environment when a command is built (tests build commands alone).
	Env *config.Config
}

// env returns the configuration the command's flags default to.
func (s IO) env() *config.Config {
	if s.Env != nil {
		return s.Env
	}
	c, _ := config.Load(os.LookupEnv) // the error is c.Err(), checked before any command runs
	return c
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
	if stdio.Env == nil {
		stdio.Env, _ = config.Load(os.LookupEnv)
	}
	root := NewRootCmd(stdio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(stdio.Err, "mlserve: %v\n", err)
	}
	return exitCodeOf(err)
}

// flagError marks errors that come from cobra's flag and argument parsing.
type flagError struct{ error }

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
	env := stdio.env()
	stdio.Env = env
	// A bad variable is a usage error before any command runs (--help
	// still works).
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if err := env.Err(); err != nil {
			return &UsageError{Err: err}
		}
		s3io.SetPathStyle(env.S3PathStyle)
		if k := env.GemmKernel; k != "" {
			if err := gemm.Use(k); err != nil {
				return usageErrorf("MLSERVE_GEMM_KERNEL: %w", err)
			}
		}
		return nil
	}
	root.AddCommand(
		newClassifyCmd(stdio),
		newModelCmd(stdio),
		newServeCmd(stdio),
		newLambdaCmd(stdio),
		newBatchCmd(stdio),
		newSubmitCmd(stdio),
		newVersionCmd(stdio),
	)
	markArgErrors(root)
	root.SetUsageTemplate(root.UsageTemplate() + "\nEnvironment variables (flags override them):\n" + config.Help())
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
