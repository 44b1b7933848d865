package testsupport

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// CIKernelsEnv names the GEMM kernels CI expects this machine to run,
// comma-separated (e.g. "avx512,avx2"). .ci/run sets it from /proc/cpuinfo,
// so a runner whose CPU lost a feature, or a build that stopped detecting
// it, fails instead of passing the per-kernel tests on fewer kernels.
const CIKernelsEnv = "MLSERVE_CI_KERNELS"

// ExpectedKernels returns the kernels named by MLSERVE_CI_KERNELS.
func ExpectedKernels() []string {
	var ks []string
	for k := range strings.SplitSeq(os.Getenv(CIKernelsEnv), ",") {
		if k = strings.TrimSpace(k); k != "" {
			ks = append(ks, k)
		}
	}
	return ks
}

// KernelMissing reports a GEMM kernel that a per-kernel test cannot run on
// this machine (a CPU without it, or a purego build): a failure when
// MLSERVE_CI_KERNELS lists it, else a log line that says which kernel went
// untested and why.
func KernelMissing(t testing.TB, kern string, why error) {
	t.Helper()
	if slices.Contains(ExpectedKernels(), kern) {
		t.Errorf("GEMM kernel %s NOT TESTED, but %s=%q expects it: %v", kern, CIKernelsEnv, os.Getenv(CIKernelsEnv), why)
		return
	}
	t.Logf("GEMM kernel %s NOT TESTED on this machine: %v", kern, why)
}

// CheckKernels fails t for each kernel MLSERVE_CI_KERNELS lists that is not
// in have (the kernels this build and CPU can run).
func CheckKernels(t testing.TB, have []string) {
	t.Helper()
	for _, k := range ExpectedKernels() {
		if !slices.Contains(have, k) {
			t.Errorf("GEMM kernel %s unavailable (have %v), but %s=%q expects it", k, have, CIKernelsEnv, os.Getenv(CIKernelsEnv))
		}
	}
}
