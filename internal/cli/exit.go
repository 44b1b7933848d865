package cli

import (
	"errors"
	"fmt"

	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/exitcode"
)

// Exit codes, documented in the README.
const (
	ExitOK          = exitcode.OK
	ExitFailure     = exitcode.Failure
	ExitUsage       = exitcode.Usage
	ExitInterrupted = exitcode.Interrupted
)

// UsageError is a bad flag, argument or environment variable: exit 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// usageErrorf reports a usage error (exit 2).
func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// InterruptedError is work stopped by SIGINT or SIGTERM: exit 3.
type InterruptedError struct{ Err error }

func (e *InterruptedError) Error() string { return e.Err.Error() }
func (e *InterruptedError) Unwrap() error { return e.Err }

// exitCodes is the one table from typed errors to exit codes: the first
// row that matches decides; anything else is ExitFailure. A new error type
// is one row here.
var exitCodes = []struct {
	match func(error) bool
	code  int
}{
	{as[*UsageError], ExitUsage},
	{as[flagError], ExitUsage},
	{as[*config.Error], ExitUsage},
	{as[*batch.UsageError], ExitUsage},
	{as[*InterruptedError], ExitInterrupted},
	{func(err error) bool { return errors.Is(err, batch.ErrInterrupted) }, ExitInterrupted},
}

func as[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// exitCodeOf is the exit code of a command's error.
func exitCodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	for _, row := range exitCodes {
		if row.match(err) {
			return row.code
		}
	}
	return ExitFailure
}
