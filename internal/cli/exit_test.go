package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/config"
)

func TestExitCodes(t *testing.T) {
	_, envErr := config.Load(func(string) (string, bool) { return "x", true })
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 1},
		{"batch failures", fmt.Errorf("run: %w", &batch.FailuresError{}), 1},
		{"usage", usageErrorf("--top-k: bad"), 2},
		{"flag", flagError{errors.New("unknown flag")}, 2},
		{"environment", envErr, 2},
		{"batch usage", fmt.Errorf("x: %w", &batch.UsageError{Err: errors.New("output inside input")}), 2},
		{"interrupted", &InterruptedError{Err: context.Canceled}, 3},
		{"batch interrupted", fmt.Errorf("%w (re-run to resume)", batch.ErrInterrupted), 3},
	} {
		if got := exitCodeOf(tc.err); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
	if envErr == nil {
		t.Fatal("no environment error to test")
	}
}
