package testsupport

import (
	"fmt"
	"slices"
	"testing"
)

// recorder is a testing.TB that records Errorf and Logf instead of
// reporting them, so the helpers' failures can be tested.
type recorder struct {
	testing.TB
	errors, logs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func TestCI(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want bool
	}{{"", false}, {"true", true}, {"1", true}, {"yes", true}, {"false", true}} {
		t.Setenv("CI", tc.val)
		if got := CI(); got != tc.want {
			t.Errorf("CI=%q: CI() = %v, want %v", tc.val, got, tc.want)
		}
	}
}

func TestExpectedKernels(t *testing.T) {
	t.Setenv(CIKernelsEnv, " avx512, avx2,,")
	if got := ExpectedKernels(); !slices.Equal(got, []string{"avx512", "avx2"}) {
		t.Errorf("ExpectedKernels() = %q", got)
	}
	t.Setenv(CIKernelsEnv, "")
	if got := ExpectedKernels(); got != nil {
		t.Errorf("ExpectedKernels() unset = %q, want none", got)
	}
}

func TestKernelMissing(t *testing.T) {
	t.Setenv(CIKernelsEnv, "avx512,avx2")
	r := &recorder{TB: t}
	KernelMissing(r, "neon", fmt.Errorf("not here"))
	if len(r.errors) != 0 || len(r.logs) != 1 {
		t.Errorf("kernel CI does not expect: errors %q, logs %q; want one log line", r.errors, r.logs)
	}
	r = &recorder{TB: t}
	KernelMissing(r, "avx512", fmt.Errorf("no AVX-512"))
	if len(r.errors) != 1 {
		t.Errorf("kernel CI expects: errors %q, want one failure", r.errors)
	}
}

func TestCheckKernels(t *testing.T) {
	t.Setenv(CIKernelsEnv, "avx512,avx2")
	r := &recorder{TB: t}
	CheckKernels(r, []string{"avx512", "avx2", "generic"})
	if len(r.errors) != 0 {
		t.Errorf("all present: %q", r.errors)
	}
	CheckKernels(r, []string{"avx2", "generic"})
	if len(r.errors) != 1 {
		t.Errorf("avx512 absent: errors %q, want one", r.errors)
	}
}
