package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by the lambda mode's implementation.
func newLambdaCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "lambda",
		Short: "Not implemented yet",
		RunE:  func(*cobra.Command, []string) error { return errors.New("lambda: not implemented yet") },
	}
}
