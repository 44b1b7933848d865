package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by `model pull` and `model info`.
func newModelCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "model",
		Short: "Fetch and inspect model files",
		RunE:  func(*cobra.Command, []string) error { return errors.New("model: not implemented yet") },
	}
}
