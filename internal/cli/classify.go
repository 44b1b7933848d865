package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by the classify implementation.
func newClassifyCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "classify <image>...",
		Short: "Print the top classes of images",
		RunE:  func(*cobra.Command, []string) error { return errors.New("classify: not implemented yet") },
	}
}
