package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by the batch mode's implementation.
func newBatchCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "batch",
		Short: "Not implemented yet",
		RunE:  func(*cobra.Command, []string) error { return errors.New("batch: not implemented yet") },
	}
}
