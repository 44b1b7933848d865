package lambdaadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mlserve/mlserve/internal/submit"
)

// s3Event is the part of an S3 notification the handler reads. It is its
// own type rather than events.S3Event, whose key decoding fails the whole
// event on one badly encoded key.
type s3Event struct {
	Records []s3Record `json:"Records"`
	// Event is "s3:TestEvent" in the test message S3 sends when a
	// notification is configured.
	Event string `json:"Event"`
	// Bucket and Key are the compact SQS body {"bucket", "key"}.
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Source, DetailType and Detail are an EventBridge event from S3, as
	// the uploads rule's dead-letter queue holds it (EventBridge
	// dead-letters the event itself, not the rule's compact input), or as
	// a rule without an input transformer sends it.
	Source     string   `json:"source"`
	DetailType string   `json:"detail-type"`
	Detail     s3Entity `json:"detail"`
}

type s3Record struct {
	EventSource string   `json:"eventSource"`
	EventName   string   `json:"eventName"`
	S3          s3Entity `json:"s3"`
}

// s3Entity is the bucket and object of an S3 notification's record (key
// URL-encoded) or of an EventBridge S3 event's detail (key as it is).
type s3Entity struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	} `json:"object"`
}

// S3Response is the handler's answer to an S3 notification.
type S3Response struct {
	Jobs    []Job         `json:"jobs"`
	Skipped []SkippedItem `json:"skipped,omitempty"`
	// Direct is the burst classified in the function itself, if any.
	Direct []DirectBurst `json:"direct,omitempty"`
}

// Job is one submitted AWS Batch job.
type Job = submit.Job

// SkippedItem is a record the handler did not submit, and why.
type SkippedItem = submit.Skipped

// addS3Records puts an S3 event's records into w, owned by owner (the SQS
// message that carried them, or "").
func addS3Records(w *submit.Window, recs []s3Record, owner string) {
	for _, r := range recs {
		bucket, rawKey := r.S3.Bucket.Name, r.S3.Object.Key
		if r.EventSource != "aws:s3" || !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			w.Skip(bucket, rawKey, fmt.Sprintf("event %s from %s is not an S3 ObjectCreated event", r.EventName, r.EventSource))
			continue
		}
		w.AddRecord(bucket, rawKey, owner)
	}
}

// handleS3 takes a notification S3 sent the function directly: one window
// of its own. A failed submission is the invocation's error, so Lambda's
// asynchronous retries try it again.
func (h *Handler) handleS3(ctx context.Context, raw json.RawMessage) (*S3Response, error) {
	var ev s3Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &UnknownEventError{Received: "an S3 notification that does not parse: " + err.Error()}
	}
	w := h.newWindow()
	addS3Records(w, ev.Records, "")
	res := h.processWindow(ctx, w, "s3", true)
	resp := &S3Response{Jobs: res.Jobs, Skipped: w.Skipped, Direct: res.Direct}
	if res.Err != nil {
		return nil, res.Err
	}
	return resp, nil
}
