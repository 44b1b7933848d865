package lambdaadapter

import (
	"fmt"

	"github.com/mlserve/mlserve/internal/submit"
)

// The handler returns these types unwrapped, so Lambda's errorType names
// them (it reports the Go type name of the returned error).

// UnknownEventError is an event of a shape the handler does not know.
type UnknownEventError struct {
	Received string // what arrived, e.g. "a JSON object with keys [foo]"
}

func (e *UnknownEventError) Error() string {
	return "unknown event: received " + e.Received + `; want an API Gateway or Function URL request (POST /predict), an S3 ObjectCreated notification (directly or in SQS messages), {"sweep": {"prefix": "input/"}}, {"s3_uri": "s3://bucket/key"}, {"image": "<base64>"} or {"images": [...]}`
}

// BadRequestError is a direct invoke that is malformed (bad base64, wrong
// field types, an s3_uri that is not s3://...).
type BadRequestError struct {
	Code    string // api.CodeBadRequest or api.CodeBodyTooLarge
	Message string
}

func (e *BadRequestError) Error() string { return e.Code + ": " + e.Message }

// ImageError is an image a direct invoke could not classify. Code is the
// engine's code (imageprep's codes for bad input, "internal", "canceled").
type ImageError struct {
	Code    string
	Message string
	Source  string // the s3_uri, when there is one
}

func (e *ImageError) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("%s: %s: %s", e.Source, e.Code, e.Message)
	}
	return e.Code + ": " + e.Message
}

// ObjectReadError is an {"s3_uri"} object that could not be read.
type ObjectReadError struct {
	URI string
	Err error
}

func (e *ObjectReadError) Error() string { return fmt.Sprintf("read %s: %v", e.URI, e.Err) }
func (e *ObjectReadError) Unwrap() error { return e.Err }

// ConfigError is an event the function is not configured for (an S3 event
// without MLSERVE_JOB_QUEUE, for example).
type ConfigError struct {
	Message string
}

func (e *ConfigError) Error() string { return "configuration: " + e.Message }

// ManifestError is a job manifest that could not be written.
type ManifestError = submit.ManifestError

// SubmitJobError is a SubmitJob call AWS Batch refused or that failed,
// after its retries.
type SubmitJobError = submit.SubmitJobError
