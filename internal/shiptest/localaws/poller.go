package localaws

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Poller is a local Lambda event source mapping for an SQS queue: it
// collects messages for a batching window (from the first message, up to
// BatchSize messages or Lambda's 6 MB payload), invokes the function under
// the Runtime Interface Emulator with the SQS event shape, and honours
// ReportBatchItemFailures: the messages the answer lists, and all of them
// when the invocation fails, are left to become visible again after the
// queue's visibility timeout (goaws then moves them to the dead-letter
// queue after maxReceiveCount); the others are deleted.
type Poller struct {
	SQS       *SQS
	QueueURL  string
	QueueARN  string
	InvokeURL string
	Window    time.Duration // batching window (default 30s)
	BatchSize int           // default 10000
	Client    *http.Client
	Log       *slog.Logger

	once     sync.Once
	mu       sync.Mutex
	windows  []Window
	receives map[string]int // by message id: goaws does not count them
	busy     bool
	carry    []sqsRecord // received, but over the last window's 6 MB: the next one starts with them
}

// maxPayload is Lambda's synchronous invocation payload limit.
const maxPayload = 6 << 20

// Window is one invocation of the function and what came of it.
type Window struct {
	Messages []string        `json:"messages"` // message ids
	Failed   []string        `json:"failed"`   // batchItemFailures, or every message when the invocation failed
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
	Err      string          `json:"error,omitempty"`
	Bytes    int             `json:"bytes"`
	Start    time.Time       `json:"start"`
	End      time.Time       `json:"end"`
}

func (p *Poller) init() {
	p.once.Do(func() {
		if p.Window <= 0 {
			p.Window = 30 * time.Second
		}
		if p.BatchSize <= 0 {
			p.BatchSize = 10000
		}
		if p.Client == nil {
			p.Client = &http.Client{Timeout: 15 * time.Minute}
		}
		if p.Log == nil {
			p.Log = slog.Default()
		}
		p.receives = map[string]int{}
	})
}

// Run polls until ctx is done.
func (p *Poller) Run(ctx context.Context) {
	p.init()
	for ctx.Err() == nil {
		msgs := p.collect(ctx)
		if len(msgs) == 0 {
			continue
		}
		p.setBusy(true)
		w := p.invoke(ctx, msgs)
		p.mu.Lock()
		p.windows = append(p.windows, w)
		p.busy = false
		p.mu.Unlock()
	}
}

func (p *Poller) setBusy(b bool) {
	p.mu.Lock()
	p.busy = b
	p.mu.Unlock()
}

// sqsRecord is one message as an event source mapping hands it to the
// function, as large as AWS's: the receipt handle, attributes and MD5 count
// toward Lambda's 6 MB as much as the body does.
type sqsRecord struct {
	handle         string            // goaws's receipt handle, for DeleteMessage
	MessageID      string            `json:"messageId"`
	ReceiptHandle  string            `json:"receiptHandle"`
	Body           string            `json:"body"`
	Attributes     map[string]string `json:"attributes"`
	MessageAttrs   map[string]any    `json:"messageAttributes"`
	MD5OfBody      string            `json:"md5OfBody"`
	EventSource    string            `json:"eventSource"`
	EventSourceARN string            `json:"eventSourceARN"`
	AWSRegion      string            `json:"awsRegion"`
}

// collect gathers one window of messages.
func (p *Poller) collect(ctx context.Context) []sqsRecord {
	var recs []sqsRecord
	size := 64
	var deadline time.Time
	add := func(r sqsRecord) bool {
		b, _ := json.Marshal(r)
		if size+len(b)+1 > maxPayload || len(recs) >= p.BatchSize {
			return false
		}
		size += len(b) + 1
		recs = append(recs, r)
		if deadline.IsZero() {
			deadline = time.Now().Add(p.Window)
		}
		return true
	}
	carried := p.carry
	p.carry = nil
	for i, r := range carried {
		if !add(r) {
			p.carry = carried[i:]
			return recs
		}
	}
	for ctx.Err() == nil && len(recs) < p.BatchSize {
		wait := time.Second
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			wait = min(wait, left)
		}
		msgs, err := p.SQS.Receive(ctx, p.QueueURL, min(p.BatchSize-len(recs), 1000), wait)
		if err != nil {
			if ctx.Err() == nil {
				p.Log.WarnContext(ctx, "poller: receive failed", "err", err)
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		if len(msgs) == 0 && !deadline.IsZero() && wait < time.Second {
			time.Sleep(wait) // goaws answers at once when the wait is under a second
		}
		full := false
		for _, m := range msgs {
			p.mu.Lock()
			p.receives[m.MessageID]++
			n := p.receives[m.MessageID]
			p.mu.Unlock()
			r := p.record(m, n)
			if full || !add(r) {
				// Over Lambda's payload limit (or the batch size): the rest
				// start the next window, as the event source mapping does.
				full = true
				p.carry = append(p.carry, r)
			}
		}
		if full {
			p.Log.InfoContext(ctx, "poller: window full", "messages", len(recs), "bytes", size, "carried", len(p.carry))
			return recs
		}
	}
	return recs
}

// record wraps a received message the way Lambda's poller does, its n-th
// receive. goaws's ids and handles are shorter than SQS's: the record gets
// a UUID-long id and a receipt handle of SQS's length (handles in real
// events run about 370 to 420 characters, "AQEB" and base64), the
// attributes SQS sends (SenderId as EventBridge's sends it), and the
// body's MD5.
func (p *Poller) record(m Message, n int) sqsRecord {
	attrs := map[string]string{
		"SentTimestamp":                    strconv.FormatInt(time.Now().UnixMilli(), 10),
		"SenderId":                         "AROAEXAMPLE2SUBMITTER:events",
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
	}
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs["ApproximateReceiveCount"] = strconv.Itoa(n)
	sum := md5.Sum([]byte(m.Body))
	return sqsRecord{
		handle: m.ReceiptHandle, MessageID: padID(m.MessageID), ReceiptHandle: receiptHandle(m.ReceiptHandle, n),
		Body: m.Body, Attributes: attrs, MessageAttrs: map[string]any{}, MD5OfBody: hex.EncodeToString(sum[:]),
		EventSource: "aws:sqs", EventSourceARN: p.QueueARN, AWSRegion: "us-east-1",
	}
}

// receiptHandleLen is a receipt handle's length in events SQS delivered
// (412 characters in one public SQS event; 372 in a ReceiveMessage answer).
const receiptHandleLen = 412

// receiptHandle makes a handle of SQS's length from goaws's: "AQEB" and
// base64 of a hash chain seeded by the handle and the receive.
func receiptHandle(h string, n int) string {
	var raw []byte
	seed := sha256.Sum256([]byte(h + "#" + strconv.Itoa(n)))
	for len(raw) < receiptHandleLen {
		raw = append(raw, seed[:]...)
		seed = sha256.Sum256(seed[:])
	}
	return ("AQEB" + base64.StdEncoding.EncodeToString(raw))[:receiptHandleLen]
}

// padID gives a message id the 36 characters of SQS's UUIDs, when goaws's
// is shorter; it stays unique (the id is its prefix).
func padID(id string) string {
	if len(id) >= 36 {
		return id
	}
	return id + strings.Repeat("0", 36-len(id))
}

func (p *Poller) invoke(ctx context.Context, recs []sqsRecord) Window {
	ev, _ := json.Marshal(map[string]any{"Records": recs})
	w := Window{Start: time.Now().UTC(), Bytes: len(ev)}
	for _, r := range recs {
		w.Messages = append(w.Messages, r.MessageID)
	}
	failed := map[string]bool{}
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.InvokeURL, bytes.NewReader(ev))
		resp, err := p.Client.Do(req)
		if err != nil {
			if attempt < 20 && ctx.Err() == nil {
				time.Sleep(250 * time.Millisecond)
				continue
			}
			w.Err = err.Error()
			break
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		w.Status = resp.StatusCode
		var ans struct {
			BatchItemFailures []struct {
				ItemIdentifier string `json:"itemIdentifier"`
			} `json:"batchItemFailures"`
			ErrorType string `json:"errorType"`
		}
		if json.Unmarshal(body, &ans) != nil || ans.ErrorType != "" || resp.StatusCode != http.StatusOK ||
			resp.Header.Get("X-Amz-Function-Error") != "" {
			w.Err = string(body)
		} else {
			w.Response = body
			for _, f := range ans.BatchItemFailures {
				failed[f.ItemIdentifier] = true
			}
		}
		break
	}
	for _, r := range recs {
		if w.Err != "" || failed[r.MessageID] {
			w.Failed = append(w.Failed, r.MessageID)
			continue
		}
		if err := p.SQS.Delete(ctx, p.QueueURL, r.handle); err != nil {
			p.Log.WarnContext(ctx, "poller: delete failed", "message_id", r.MessageID, "err", err)
		}
	}
	w.End = time.Now().UTC()
	p.Log.InfoContext(ctx, "poller: invoked function", "messages", len(recs), "bytes", len(ev), "failed", len(w.Failed), "status", w.Status, "error", w.Err != "")
	return w
}

// Windows returns the finished invocations, and whether one is running.
func (p *Poller) Windows() ([]Window, bool) {
	p.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Window(nil), p.windows...), p.busy
}

// ServeWindows answers GET with the invocations as JSON.
func (p *Poller) ServeWindows(w http.ResponseWriter, _ *http.Request) {
	ws, busy := p.Windows()
	writeJSON(w, http.StatusOK, map[string]any{"windows": ws, "busy": busy})
}
