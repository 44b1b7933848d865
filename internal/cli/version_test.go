package cli

import (
	"runtime"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/gemm"
)

func TestVersion(t *testing.T) {
	best := gemm.Kernel()
	t.Cleanup(func() { _ = gemm.Use(best) })
	for _, tc := range []struct {
		env  string // MLSERVE_GEMM_KERNEL
		want string
	}{
		{"", "gemm: " + best},
		{"generic", "gemm: generic"},
		{best, "gemm: " + best},
	} {
		t.Run("kernel="+tc.env, func(t *testing.T) {
			t.Setenv("MLSERVE_GEMM_KERNEL", tc.env)
			code, out, errOut := runCLI(t, nil, "version")
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, want := range []string{"mlserve " + Version + "\n", runtime.GOOS + "/" + runtime.GOARCH, tc.want + "\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	t.Setenv("MLSERVE_GEMM_KERNEL", "tpu")
	if code, _, errOut := runCLI(t, nil, "version"); code != ExitUsage || !strings.Contains(errOut, "MLSERVE_GEMM_KERNEL") {
		t.Errorf("unknown kernel: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, nil, "version", "extra"); code != ExitUsage {
		t.Errorf("version with an argument: exit %d, want %d", code, ExitUsage)
	}
}
