package cli

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/gemm"
)

func newVersionCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the platform and the GEMM kernel in use",
		Example: "  # which build, and which GEMM kernel this CPU got (MLSERVE_GEMM_KERNEL forces one)\n" +
			"  $ mlserve version",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runVersion(stdio.Out) },
	}
}

// runVersion prints the build's version, its Go toolchain and platform, and
// the GEMM micro-kernel (avx512, avx2, neon or generic) new models pack for.
func runVersion(w io.Writer) error {
	_, err := fmt.Fprintf(w, "mlserve %s\ngo: %s %s/%s\ngemm: %s\n",
		Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, gemm.Kernel())
	return err
}
