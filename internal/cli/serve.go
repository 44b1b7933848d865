package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by the serve mode's implementation.
func newServeCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Not implemented yet",
		RunE:  func(*cobra.Command, []string) error { return errors.New("serve: not implemented yet") },
	}
}
