// Package testsupport holds helpers shared by tests across packages: where
// the repository and its fixtures are, and finding external tools.
package testsupport

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, walking up from the
// current directory (a package's directory under go test).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testsupport: no go.mod above the working directory")
		}
		dir = parent
	}
}

// FixturesEnv names the variable that overrides where the fixtures are, for
// runs from a copy of the module (make mutation: gremlins tests each mutant
// in a temporary copy, where ../shared does not exist).
const FixturesEnv = "MLSERVE_TEST_FIXTURES"

// Fixtures returns the shared fixtures directory, ../shared/fixtures from the
// repository root (or $MLSERVE_TEST_FIXTURES), joined with elem.
func Fixtures(t testing.TB, elem ...string) string {
	t.Helper()
	root := os.Getenv(FixturesEnv)
	if root == "" {
		root = filepath.Join(RepoRoot(t), "..", "shared", "fixtures")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "fixture %s: %v", p, err)
	}
	return p
}

// ReadFixture reads a file of the shared fixtures (see Fixtures).
func ReadFixture(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(Fixtures(t, elem...))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// Tool finds an external program: the path in the environment variable env
// when set, else name on PATH. A missing tool skips the test locally and
// fails it in CI (see CI), so CI cannot skip silently.
func Tool(t testing.TB, name, env string) string {
	t.Helper()
	if env != "" {
		if p := os.Getenv(env); p != "" {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not found on PATH (or $%s): %v", name, env, err)
	}
	return p
}

// CI reports whether the tests run in CI: the CI variable set to any
// non-empty value (CI=true, CI=1, CI=yes all count), as CI systems set it.
func CI() bool { return os.Getenv("CI") != "" }

// Missing skips the test, or fails it in CI (see CI).
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
