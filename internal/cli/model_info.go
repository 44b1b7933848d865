package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
)

// modelInfoOptions are the flags of `mlserve model info`.
type modelInfoOptions struct {
	IO
	Model string // a path or URL; "" means the resolved default model
}

func newModelInfoCmd(stdio IO) *cobra.Command {
	opts := modelInfoOptions{IO: stdio}
	return &cobra.Command{
		Use:   "info [model]",
		Short: "Describe a model file: inputs, outputs and operators",
		Example: `  # describe the cached default model
  $ mlserve model info

  # describe another model file
  $ mlserve model info ./resnet50-v2-7.onnx`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("model info takes at most one model, got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Model = args[0]
			}
			return runModelInfo(cmd.Context(), opts)
		},
	}
}

// runModelInfo describes a model. Placeholder until infer.Inspect lands.
func runModelInfo(_ context.Context, _ modelInfoOptions) error {
	return errors.New("model info: not implemented yet")
}
