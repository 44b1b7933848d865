package lambdaadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/mlserve/mlserve/internal/submit"
)

// sqsEvent is an SQS event source mapping's batch: every message of one
// batching window.
type sqsEvent struct {
	Records []sqsMessage `json:"Records"`
}

type sqsMessage struct {
	MessageID   string `json:"messageId"`
	Body        string `json:"body"`
	EventSource string `json:"eventSource"`
	Attributes  struct {
		ApproximateReceiveCount string `json:"ApproximateReceiveCount"`
	} `json:"attributes"`
}

// SQSResponse answers an SQS batch. Lambda reads BatchItemFailures
// (ReportBatchItemFailures): the messages listed there become visible again
// and are delivered again, the rest are deleted; after the queue's
// maxReceiveCount a message moves to the dead-letter queue. The other
// fields are for logs and tests.
type SQSResponse struct {
	BatchItemFailures []ItemFailure `json:"batchItemFailures"`
	Jobs              []Job         `json:"jobs"`
	Skipped           []SkippedItem `json:"skipped,omitempty"`
	Direct            []DirectBurst `json:"direct,omitempty"`
}

// ItemFailure names a message to deliver again.
type ItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// handleSQS takes one window of S3 notifications from the queue: every
// record of every message, deduplicated, becomes one manifest and one
// SubmitJob (or is classified here when the window is small). Messages
// whose uploads could not be submitted, and messages that are not S3
// notifications, are reported as failures, so SQS delivers them again and
// finally parks them in the dead-letter queue: nothing is dropped silently.
func (h *Handler) handleSQS(ctx context.Context, raw json.RawMessage) (*SQSResponse, error) {
	var ev sqsEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, &UnknownEventError{Received: "an SQS event that does not parse: " + err.Error()}
	}
	w := h.newWindow()
	failed := map[string]bool{}
	direct := true
	for _, m := range ev.Records {
		if n, _ := strconv.Atoi(m.Attributes.ApproximateReceiveCount); n > 1 {
			// A redelivery: the last try may have died in the function
			// (out of memory, timeout). Leave the work to Batch.
			direct = false
		}
		if !h.addMessage(ctx, w, m) {
			failed[m.MessageID] = true
		}
	}
	res := h.processWindow(ctx, w, "sqs", direct)
	for _, id := range res.Failed {
		failed[id] = true
	}
	resp := &SQSResponse{BatchItemFailures: []ItemFailure{}, Jobs: res.Jobs, Skipped: w.Skipped, Direct: res.Direct}
	if resp.Jobs == nil {
		resp.Jobs = []Job{}
	}
	ids := make([]string, 0, len(failed))
	for id := range failed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		resp.BatchItemFailures = append(resp.BatchItemFailures, ItemFailure{ItemIdentifier: id})
	}
	h.log.InfoContext(ctx, "SQS window", "messages", len(ev.Records), "images", w.Images(), "skipped", len(w.Skipped),
		"jobs", len(resp.Jobs), "direct", len(resp.Direct), "failed_messages", len(ids))
	return resp, nil
}

// addMessage puts the uploads of one SQS message into w: a compact body
// {"bucket": "b", "key": "k"}, an EventBridge S3 event, or an S3
// notification. It reports false for a body that is none of them, which
// the caller answers as a failure, so it ends in the dead-letter queue.
func (h *Handler) addMessage(ctx context.Context, w *submit.Window, m sqsMessage) bool {
	var body s3Event
	err := json.Unmarshal([]byte(m.Body), &body)
	switch {
	case err != nil:
	case body.Records == nil && body.Bucket != "" && body.Key != "":
		// The compact form (key not URL-encoded), from the uploads rule's
		// input transformer: a third of an S3 notification's size, so
		// three times the messages fit Lambda's 6 MB event.
		w.Add(body.Bucket, body.Key, m.MessageID)
		return true
	case body.Source == "aws.s3" && body.DetailType != "":
		return h.addEventBridge(ctx, w, body, m.MessageID)
	case body.Event == "s3:TestEvent":
		h.log.InfoContext(ctx, "skipped S3 test event", "message_id", m.MessageID)
		w.Skip("", "", "S3 test event (message "+m.MessageID+")")
		return true
	case body.Records != nil:
		addS3Records(w, body.Records, m.MessageID)
		return true
	}
	reason := "message body is not an S3 event notification"
	if err != nil {
		reason += ": " + err.Error()
	}
	h.log.WarnContext(ctx, "unreadable SQS message: reported as failed, so it ends in the dead-letter queue",
		"message_id", m.MessageID, "reason", reason, "bytes", len(m.Body))
	return false
}

// addEventBridge takes an EventBridge event from S3: an "Object Created"
// event is an upload (its key as it is); any other S3 event is
// acknowledged with a reason, as an S3 notification's other events are.
func (h *Handler) addEventBridge(ctx context.Context, w *submit.Window, ev s3Event, owner string) bool {
	bucket, key := ev.Detail.Bucket.Name, ev.Detail.Object.Key
	if ev.DetailType != "Object Created" {
		w.Skip(bucket, key, fmt.Sprintf("EventBridge event %q from %s is not an upload", ev.DetailType, ev.Source))
		return true
	}
	if bucket == "" || key == "" {
		h.log.WarnContext(ctx, "EventBridge S3 event without a bucket or key: reported as failed, so it ends in the dead-letter queue",
			"message_id", owner, "bucket", bucket, "key", key)
		return false
	}
	w.Add(bucket, key, owner)
	return true
}
