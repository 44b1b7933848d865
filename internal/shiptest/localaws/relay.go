// Package localaws stands in, on 127.0.0.1, for the two AWS services the
// local stack has no binary for:
//
//   - S3 event notifications to Lambda: Relay takes the event records that
//     versitygw posts to a webhook, applies the bucket's notification filter
//     (ObjectCreated under a key prefix), rewrites them the way S3 delivers
//     them to Lambda (eventName without "s3:", URL-encoded key) and invokes
//     the function through the Lambda Runtime Interface Emulator, one event
//     at a time (the emulator runs one invocation at a time), or puts them
//     on an SQS queue, as S3 notifications or as the deployed EventBridge
//     rule's compact {"bucket","key"} bodies, for a Poller (the event
//     source mapping);
//   - AWS Batch: Batch answers SubmitJob and DescribeJobs on the REST-JSON
//     API the AWS SDK speaks, records each call, and runs the job's command
//     with the mlserve binary as a local process, array children and the
//     retry strategy's evaluateOnExit included.
package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Invocation is one relayed event and the function's answer.
type Invocation struct {
	Bucket   string          `json:"bucket"`
	Key      string          `json:"key"`
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
	Err      string          `json:"error,omitempty"`
	Time     time.Time       `json:"time"`
}

// Relay forwards S3 ObjectCreated records under Prefix to a Lambda
// function behind the Runtime Interface Emulator at InvokeURL or, when
// SQS is set, as messages on the queue at QueueURL (a Poller then invokes
// the function). On the queue a message is the S3 notification, as a
// bucket notification's queue target writes it, or with Compact the body
// {"bucket": "...", "key": "..."} (key not URL-encoded), as the deployed
// EventBridge rule's input transformer writes it.
type Relay struct {
	Prefix    string
	InvokeURL string
	SQS       *SQS
	QueueURL  string
	Compact   bool
	Client    *http.Client
	Log       *slog.Logger

	once    sync.Once
	queue   chan relayed
	mu      sync.Mutex
	done    []Invocation
	pending int
}

type relayed struct {
	bucket, key string
	event       []byte
}

func (r *Relay) init() {
	r.once.Do(func() {
		r.queue = make(chan relayed, 1024)
		if r.Client == nil {
			r.Client = &http.Client{Timeout: 5 * time.Minute}
		}
		if r.Log == nil {
			r.Log = slog.Default()
		}
	})
}

// s3Event is the part of an S3 event record the relay reads; the rest
// passes through unchanged.
type s3Event struct {
	Records []map[string]json.RawMessage `json:"Records"`
}

type s3Entity struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key string `json:"key"`
	} `json:"object"`
}

// ServeHTTP accepts a webhook POST. Test events (no Records) and records
// the notification filter drops are acknowledged and ignored.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.init()
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ev s3Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "not an S3 event: "+err.Error(), http.StatusBadRequest)
		return
	}
	for _, rec := range ev.Records {
		out, bucket, key, ok := r.rewrite(rec)
		if !ok {
			continue
		}
		if r.Compact && r.SQS != nil {
			out = CompactBody(bucket, key)
		}
		r.mu.Lock()
		r.pending++
		r.mu.Unlock()
		r.queue <- relayed{bucket: bucket, key: key, event: out}
	}
	w.WriteHeader(http.StatusNoContent)
}

// rewrite turns one versitygw record into the event S3 would send Lambda,
// or reports false when the notification filter drops it.
func (r *Relay) rewrite(rec map[string]json.RawMessage) (event []byte, bucket, key string, ok bool) {
	var name string
	var ent s3Entity
	if json.Unmarshal(rec["eventName"], &name) != nil || json.Unmarshal(rec["s3"], &ent) != nil {
		return nil, "", "", false
	}
	name = strings.TrimPrefix(name, "s3:") // S3 sends "ObjectCreated:Put"
	key = ent.Object.Key
	if !strings.HasPrefix(name, "ObjectCreated:") || !strings.HasPrefix(key, r.Prefix) {
		return nil, "", "", false
	}
	var s3 map[string]any
	if json.Unmarshal(rec["s3"], &s3) != nil {
		return nil, "", "", false
	}
	if obj, ok := s3["object"].(map[string]any); ok {
		obj["key"] = EncodeKey(key)
	}
	out := map[string]any{}
	for k, v := range rec {
		out[k] = v
	}
	out["eventName"] = name
	out["s3"] = s3
	b, err := json.Marshal(map[string]any{"Records": []any{out}})
	if err != nil {
		return nil, "", "", false
	}
	return b, ent.Bucket.Name, key, true
}

// CompactBody is the message the EventBridge rule's template
// {"bucket":<detail-bucket-name>,"key":<detail-object-key>} makes: each
// value a JSON string, the key as it is (EventBridge does not URL-encode).
func CompactBody(bucket, key string) []byte {
	b, _ := json.Marshal(struct {
		Bucket string `json:"bucket"`
		Key    string `json:"key"`
	}{bucket, key}) // strings always marshal
	return b
}

// EncodeKey encodes an object key as S3 event notifications do: like a
// form value (space as '+'), with the '/' separators kept.
func EncodeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}

// Run invokes the function for queued events until ctx is done.
func (r *Relay) Run(ctx context.Context) {
	r.init()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.queue:
			inv := r.invoke(ctx, ev)
			r.mu.Lock()
			r.done = append(r.done, inv)
			r.pending--
			r.mu.Unlock()
		}
	}
}

func (r *Relay) invoke(ctx context.Context, ev relayed) Invocation {
	inv := Invocation{Bucket: ev.bucket, Key: ev.key, Time: time.Now().UTC()}
	if r.SQS != nil {
		if err := r.SQS.Send(ctx, r.QueueURL, string(ev.event)); err != nil {
			inv.Err = err.Error()
			r.Log.ErrorContext(ctx, "send to queue failed", "key", ev.key, "err", err)
			return inv
		}
		inv.Status = http.StatusOK
		return inv
	}
	// The emulator may still be starting: retry refused connections briefly.
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.InvokeURL, bytes.NewReader(ev.event))
		if err != nil {
			inv.Err = err.Error()
			return inv
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := r.Client.Do(req)
		if err != nil {
			if attempt < 20 && ctx.Err() == nil {
				time.Sleep(250 * time.Millisecond)
				continue
			}
			inv.Err = err.Error()
			r.Log.ErrorContext(ctx, "invoke failed", "key", ev.key, "err", err)
			return inv
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		inv.Status = resp.StatusCode
		if json.Valid(body) {
			inv.Response = body
		} else {
			inv.Err = string(body)
		}
		r.Log.InfoContext(ctx, "invoked function", "bucket", ev.bucket, "key", ev.key, "status", resp.StatusCode)
		return inv
	}
}

// Invocations returns the finished invocations and how many wait.
func (r *Relay) Invocations() (done []Invocation, pending int) {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Invocation(nil), r.done...), r.pending
}

// ServeInvocations answers GET with the invocations as JSON.
func (r *Relay) ServeInvocations(w http.ResponseWriter, _ *http.Request) {
	done, pending := r.Invocations()
	writeJSON(w, http.StatusOK, map[string]any{"invocations": done, "pending": pending})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away
}
