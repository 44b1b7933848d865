// Package lambdaadapter is mlserve's AWS Lambda handler. One function takes
// every event the deployment sends it and dispatches on the event's shape:
//
//   - API Gateway REST (v1 proxy), HTTP API (v2) and Function URL requests,
//     POST /predict with the image as the body: the response is the shared
//     infer.Result JSON, or {"error":{"code","message"}} with a 4xx/5xx status;
//   - S3 ObjectCreated:* notifications for keys under the input prefix, sent
//     directly or through an SQS queue (a window of messages per invoke,
//     answered with batchItemFailures): one AWS Batch job (an array job for
//     many keys) per window, its key list in a manifest object, or a small
//     window classified in the function (sqs.go, window.go, burst.go);
//   - {"sweep": {"prefix": "input/"}}: one job for what has no result yet;
//   - direct invokes {"s3_uri": "s3://b/k"}, {"image": "<base64>"} or
//     {"images": ["<base64>", ...]}.
//
// Anything else is an *UnknownEventError. Errors returned to Lambda are
// named types, since Lambda reports the Go type name as errorType.
package lambdaadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/batch"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/httpapi"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/submit"
)

// MaxSyncPayload is Lambda's limit on a synchronous invocation payload
// (6 MB, 6291456 bytes, per the Lambda quotas page).
const MaxSyncPayload = 6 << 20

// Classifier classifies images; *infer.Classifier implements it. A failed
// image gets a Result with Error set.
type Classifier interface {
	Classify(ctx context.Context, images [][]byte, topK int) []infer.Result
}

// JobSubmitter submits AWS Batch jobs; *batch.Client implements it. The
// handler hands it to internal/submit, whose interface it is.
type JobSubmitter = submit.JobSubmitter

// ObjectStore reads and writes objects addressed by URL (s3://bucket/key).
// Production: the s3io package's ReadURL and WriteURL.
type ObjectStore interface {
	ReadURL(ctx context.Context, uri string) (io.ReadCloser, error)
	WriteURL(ctx context.Context, uri string, data []byte) error
}

var (
	_ Classifier   = (*infer.Classifier)(nil)
	_ JobSubmitter = (*batch.Client)(nil)
)

// Config holds the handler's settings. Zero values take the defaults noted.
type Config struct {
	TopK int // predictions per image (default 5)

	InputPrefix    string // S3 key prefix whose uploads submit jobs (required for S3 events; "" takes every key)
	OutputPrefix   string // key prefix the jobs write to (default "output/")
	ManifestPrefix string // key prefix of the manifests the handler writes (default "manifests/")
	JobQueue       string // AWS Batch job queue (required for S3 events)
	JobDefinition  string // AWS Batch job definition (required for S3 events)
	JobNamePrefix  string // job name prefix (default "mlserve")
	// Scale sizes jobs and turns on direct bursts and sweeps (burst.go).
	Scale ScaleConfig
	// JobAttempts is the retry strategy's attempt count (default 3).
	JobAttempts int

	// MaxPayload is the largest request body and event (default MaxSyncPayload).
	MaxPayload int
	// MaxObjectBytes bounds an image read for an {"s3_uri"} invoke (default 64 MiB).
	MaxObjectBytes int64
	// Uploads enables POST /uploads and /predict by key over HTTP (off).
	Uploads *httpapi.Uploads
	// DecodeBudget bounds the bytes of the images being decoded, in every
	// invoke and direct burst (default: admit.DefaultSize, a quarter of the
	// function's memory).
	DecodeBudget *admit.Budget
}

func (c *Config) setDefaults() {
	if c.TopK <= 0 {
		c.TopK = 5
	}
	if c.OutputPrefix == "" {
		c.OutputPrefix = "output/"
	}
	if c.ManifestPrefix == "" {
		c.ManifestPrefix = "manifests/"
	}
	if c.JobNamePrefix == "" {
		c.JobNamePrefix = "mlserve"
	}
	c.Scale.setDefaults()
	if c.JobAttempts <= 0 {
		c.JobAttempts = 3
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = MaxSyncPayload
	}
	if c.MaxObjectBytes <= 0 {
		c.MaxObjectBytes = 64 << 20
	}
	if c.DecodeBudget == nil {
		size, _ := admit.DefaultSize()
		c.DecodeBudget = admit.New(size)
	}
}

// Handler is the Lambda function. It holds no per-request state and is safe
// for concurrent invokes.
type Handler struct {
	cfg   Config
	clf   Classifier
	jobs  JobSubmitter
	store ObjectStore
	log   *slog.Logger
	api   *httpapi.Handler // the HTTP events' /predict
	burst burstState
}

// New returns a Handler. jobs and store may be nil when the deployment
// does not use S3 events or {"s3_uri"} invokes; such events then fail with
// a *ConfigError. log nil means slog.Default().
//
// clf may be nil for a function that only submits Batch jobs (S3 events):
// classification events then fail with a *ConfigError, or 501 over HTTP.
func New(cfg Config, clf Classifier, jobs JobSubmitter, store ObjectStore, log *slog.Logger) *Handler {
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	if clf != nil {
		clf = withBudget(clf, cfg.DecodeBudget)
	}
	h := &Handler{cfg: cfg, clf: clf, jobs: jobs, store: store, log: log}
	h.api = h.newAPI()
	return h
}

// probe holds the fields that tell event shapes apart.
type probe struct {
	Version        string `json:"version"`
	HTTPMethod     string `json:"httpMethod"`
	RawPath        string `json:"rawPath"`
	RequestContext struct {
		HTTP *struct {
			Method string `json:"method"`
		} `json:"http"`
		DomainName string `json:"domainName"`
	} `json:"requestContext"`
	Records *[]struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	Sweep  *json.RawMessage `json:"sweep"`
	S3URI  *json.RawMessage `json:"s3_uri"`
	Image  *json.RawMessage `json:"image"`
	Images *json.RawMessage `json:"images"`
}

// Invoke handles one event. Its signature is one lambda.Start accepts.
func (h *Handler) Invoke(ctx context.Context, event json.RawMessage) (any, error) {
	kind, p, err := classifyEvent(event)
	if err != nil {
		h.log.WarnContext(ctx, "unknown event", "received", err.(*UnknownEventError).Received)
		return nil, err
	}
	h.log.DebugContext(ctx, "event", "kind", kind, "bytes", len(event))
	switch kind {
	case kindRESTv1:
		return h.serveREST(ctx, event), nil
	case kindHTTPv2, kindFunctionURL:
		return h.serveHTTPv2(ctx, event, kind), nil
	case kindS3:
		return h.handleS3(ctx, event)
	case kindSQS:
		return h.handleSQS(ctx, event)
	case kindSweep:
		return h.handleSweep(ctx, event)
	default: // kindDirect
		return h.handleDirect(ctx, event, p)
	}
}

type eventKind string

const (
	kindRESTv1      eventKind = "apigateway-rest-v1"
	kindHTTPv2      eventKind = "apigateway-http-v2"
	kindFunctionURL eventKind = "function-url"
	kindS3          eventKind = "s3"
	kindSQS         eventKind = "sqs"
	kindSweep       eventKind = "sweep"
	kindDirect      eventKind = "direct"
)

// classifyEvent tells which kind of event raw is, or returns an
// *UnknownEventError describing what was received.
func classifyEvent(raw json.RawMessage) (eventKind, *probe, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return "", nil, &UnknownEventError{Received: describeJSON(trimmed)}
	}
	var p probe
	if err := json.Unmarshal(trimmed, &p); err != nil {
		return "", nil, &UnknownEventError{Received: describeJSON(trimmed)}
	}
	switch {
	case p.Records != nil:
		for _, r := range *p.Records {
			switch r.EventSource {
			case "aws:s3":
				return kindS3, &p, nil
			case "aws:sqs":
				return kindSQS, &p, nil
			}
		}
	case p.RequestContext.HTTP != nil && p.RawPath != "":
		if strings.Contains(p.RequestContext.DomainName, ".lambda-url.") {
			return kindFunctionURL, &p, nil
		}
		return kindHTTPv2, &p, nil
	case p.HTTPMethod != "":
		return kindRESTv1, &p, nil
	case p.Sweep != nil:
		return kindSweep, &p, nil
	case p.S3URI != nil || p.Image != nil || p.Images != nil:
		return kindDirect, &p, nil
	}
	return "", nil, &UnknownEventError{Received: describeJSON(trimmed)}
}

// describeJSON names what a payload is without echoing its content: the
// JSON type, and for an object its top-level keys (at most 10).
func describeJSON(raw []byte) string {
	if len(raw) == 0 {
		return "an empty payload"
	}
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return "invalid JSON"
		}
		if len(m) == 0 {
			return "an empty JSON object"
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		more := ""
		if len(keys) > 10 {
			more = ", ..."
			keys = keys[:10]
		}
		if r, ok := m["Records"]; ok {
			var recs []struct {
				EventSource string `json:"eventSource"`
			}
			if json.Unmarshal(r, &recs) == nil && len(recs) > 0 && recs[0].EventSource != "" {
				return "a JSON object with keys [" + strings.Join(keys, ", ") + more + "] and Records from " + quoteShort(recs[0].EventSource)
			}
		}
		return "a JSON object with keys [" + strings.Join(keys, ", ") + more + "]"
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "JSON null"
	default:
		if json.Valid(raw) {
			return "a JSON number"
		}
		return "invalid JSON"
	}
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// errSubmitOnly is the message for classification events sent to a
// function started without a model.
const errSubmitOnly = "this function only submits AWS Batch jobs for S3 uploads (MLSERVE_SUBMIT_ONLY is set): it has no model; send images to the predict function"
