// Package exitcode holds mlserve's process exit codes. The CLI decides them
// (internal/cli's one table of typed errors); the AWS Batch job definitions
// that run `mlserve batch` retry on them, so both import them from here.
package exitcode

const (
	OK          = 0
	Failure     = 1 // some inputs failed (more than --max-failures), or the model could not be loaded
	Usage       = 2 // bad flags, arguments or environment variables
	Interrupted = 3 // stopped by SIGINT/SIGTERM; running the same command again resumes (batch)
)
