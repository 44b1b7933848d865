package lambdaadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/s3io"
	"github.com/mlserve/mlserve/internal/submit"
)

// s3Body is an S3 notification with one ObjectCreated record per key.
func s3Body(t *testing.T, bucket string, keys ...string) string {
	var recs []any
	for _, k := range keys {
		recs = append(recs, map[string]any{
			"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
			"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": k, "size": 10}},
		})
	}
	return string(mustJSON(t, map[string]any{"Records": recs}))
}

// eventBridgeBody is an EventBridge event from S3 as EventBridge delivers
// it (and dead-letters it): the key is not URL-encoded.
func eventBridgeBody(t *testing.T, detailType, bucket, key string) string {
	return string(mustJSON(t, map[string]any{
		"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": detailType, "source": "aws.s3",
		"account": "123456789012", "time": "2026-12-01T21:00:00Z", "region": "us-east-1",
		"resources": []string{"arn:aws:s3:::" + bucket},
		"detail": map[string]any{
			"version": "0", "bucket": map[string]any{"name": bucket},
			"object":     map[string]any{"key": key, "size": 10, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "00617F08299329D189"},
			"request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "reason": "PutObject",
		},
	}))
}

type msg struct{ id, body, receives string }

func sqsEventJSON(t *testing.T, msgs ...msg) json.RawMessage {
	var recs []any
	for _, m := range msgs {
		if m.receives == "" {
			m.receives = "1"
		}
		recs = append(recs, map[string]any{
			"messageId": m.id, "receiptHandle": "rh-" + m.id, "body": m.body,
			"attributes":  map[string]any{"ApproximateReceiveCount": m.receives, "SentTimestamp": "1767225600000"},
			"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:mlserve-uploads", "awsRegion": "us-east-1",
		})
	}
	return mustJSON(t, map[string]any{"Records": recs})
}

func failedIDs(r *SQSResponse) string {
	var ids []string
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return strings.Join(ids, ",")
}

// One window of messages: every record of every message, deduplicated,
// in one manifest and one SubmitJob; test events and non-images are
// acknowledged.
func TestSQSWindow(t *testing.T) {
	srv := newBatchServer(t)
	store := newMemStore()
	h := New(s3Config(), nil, srv.client(aws.NopRetryer{}), store, testLogger(t))
	ev := sqsEventJSON(t,
		msg{id: "m1", body: s3Body(t, testBucket, "input/a.jpg", "input/b+c.png")},
		msg{id: "m2", body: s3Body(t, testBucket, "input/a.jpg")}, // S3 delivered a.jpg twice
		msg{id: "m3", body: `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-01T09:00:00.000Z","Bucket":"` + testBucket + `"}`},
		msg{id: "m4", body: s3Body(t, testBucket, "input/readme.txt")},
		msg{id: "m2", body: s3Body(t, testBucket, "input/a.jpg")},                    // the same message twice
		msg{id: "m5", body: `{"bucket":"` + testBucket + `","key":"input/b c.png"}`}, // compact form, same key as m1's
	)
	out, err := h.Invoke(lambdaCtx("req-w"), ev)
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*SQSResponse)
	if len(resp.BatchItemFailures) != 0 || len(resp.Jobs) != 1 || len(srv.recorded()) != 1 || len(resp.Skipped) != 2 {
		t.Fatalf("response %+v, %d calls", resp, len(srv.recorded()))
	}
	man, _ := store.get("s3://" + testBucket + "/manifests/mlserve-req-w.jsonl")
	if want := "\"s3://" + testBucket + "/input/a.jpg\"\n\"s3://" + testBucket + "/input/b c.png\"\n"; string(man) != want {
		t.Errorf("manifest %q, want %q", man, want)
	}
	if tags := srv.recorded()[0].Body["tags"].(map[string]any); tags["mlserve:trigger"] != "sqs" || tags["mlserve:images"] != "2" {
		t.Errorf("tags %v", tags)
	}
	// The answer is what Lambda's ReportBatchItemFailures reads.
	b, _ := json.Marshal(resp)
	if !strings.HasPrefix(string(b), `{"batchItemFailures":[]`) {
		t.Errorf("response JSON %s", b)
	}
}

// A submission that fails after its retries reports the messages whose
// uploads it lost, and only those; an unreadable body is reported too, so
// it ends in the dead-letter queue instead of vanishing.
func TestSQSSubmitFails(t *testing.T) {
	srv := newBatchServer(t)
	srv.status = 429
	srv.header = map[string]string{"X-Amzn-ErrorType": "TooManyRequestsException"}
	srv.reply = `{"message":"Too Many Requests"}`
	cfg := s3Config()
	cfg.Scale.Retry = submit.Retry{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}
	h := New(cfg, nil, srv.client(aws.NopRetryer{}), newMemStore(), testLogger(t))
	out, err := h.Invoke(lambdaCtx("req-f"), sqsEventJSON(t,
		msg{id: "m1", body: s3Body(t, testBucket, "input/a.jpg")},
		msg{id: "m2", body: s3Body(t, testBucket, "input/notes.txt")},
		msg{id: "m3", body: "not json"},
		msg{id: "m4", body: s3Body(t, testBucket, "input/a.jpg", "input/b.jpg")},
	))
	if err != nil {
		t.Fatal(err) // a partial failure is an answer, not an error
	}
	resp := out.(*SQSResponse)
	if got := failedIDs(resp); got != "m1,m3,m4" {
		t.Errorf("batchItemFailures %q, want m1,m3,m4", got)
	}
	if n := len(srv.recorded()); n != 3 {
		t.Errorf("%d SubmitJob calls, want 3 (retried)", n)
	}
}

// batchFake is the engine for direct bursts: every JPEG gets class 7.
type batchFake struct{ runs atomic.Int64 }

func (f *batchFake) Info() infer.ModelInfo { return infer.ModelInfo{Name: "fake"} }
func (f *batchFake) Prepare(data []byte) (*infer.Input, error) {
	return &infer.Input{}, nil
}
func (f *batchFake) Run(_ context.Context, in []*infer.Input, _ int) ([]infer.Result, error) {
	f.runs.Add(int64(len(in)))
	out := make([]infer.Result, len(in))
	for i := range out {
		out[i] = infer.Result{Model: "fake", Predictions: []infer.Prediction{{Rank: 1, ClassID: 7, Label: "seven", Probability: 1}}}
	}
	return out, nil
}

var memBuckets atomic.Int64

// memBucket holds keys in a fresh mem:// bucket and returns its name and
// an OpenStore that reads s3://<name>/ from it.
func memBucket(t *testing.T, keys ...string) (string, func(context.Context, string) (s3io.Store, error)) {
	name := fmt.Sprintf("lambda-%d", memBuckets.Add(1))
	s, _ := s3io.Open(context.Background(), "mem://"+name+"/")
	for _, k := range keys {
		data := "\xFF\xD8\xFF\xE0jpeg " + k
		if strings.HasPrefix(k, "output/") {
			data = `{"model":"fake"}`
		}
		if err := s.Put(context.Background(), k, strings.NewReader(data), -1); err != nil {
			t.Fatal(err)
		}
	}
	return name, func(ctx context.Context, url string) (s3io.Store, error) {
		return s3io.Open(ctx, "mem://"+strings.TrimPrefix(url, "s3://"))
	}
}

func deadlineCtx(id string, d time.Duration) (context.Context, context.CancelFunc) {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
	return context.WithTimeout(ctx, d)
}

func TestSQSDirectBurst(t *testing.T) {
	for _, tc := range []struct {
		name     string
		keys     []string
		receives string
		timeout  time.Duration
		direct   bool
	}{
		{"small burst in the function", []string{"input/a.jpg", "input/sub/b.jpg"}, "1", 5 * time.Minute, true},
		{"over MLSERVE_DIRECT_MAX", []string{"input/1.jpg", "input/2.jpg", "input/3.jpg", "input/4.jpg"}, "1", 5 * time.Minute, false},
		{"no time left", []string{"input/a.jpg"}, "1", 12 * time.Second, false},
		{"a redelivery goes to Batch", []string{"input/a.jpg"}, "2", 5 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket, open := memBucket(t, tc.keys...)
			srv := newBatchServer(t)
			clf := &batchFake{}
			loads := 0
			cfg := s3Config()
			cfg.Scale = ScaleConfig{DirectMax: 3, OpenStore: open, TempDir: t.TempDir(),
				LoadModel: func(context.Context) (batch.Classifier, error) { loads++; return clf, nil }}
			h := New(cfg, nil, srv.client(aws.NopRetryer{}), newMemStore(), testLogger(t))
			ctx, cancel := deadlineCtx("req-d", tc.timeout)
			defer cancel()
			out, err := h.Invoke(ctx, sqsEventJSON(t, msg{id: "m1", body: s3Body(t, bucket, tc.keys...), receives: tc.receives}))
			if err != nil {
				t.Fatal(err)
			}
			resp := out.(*SQSResponse)
			if !tc.direct {
				if len(srv.recorded()) != 1 || len(resp.Direct) != 0 || loads != 0 {
					t.Fatalf("want one SubmitJob and no direct burst: %+v, %d calls, %d loads", resp, len(srv.recorded()), loads)
				}
				return
			}
			if len(srv.recorded()) != 0 || len(resp.Direct) != 1 || resp.Direct[0].Succeeded != len(tc.keys) || loads != 1 {
				t.Fatalf("want a direct burst and no SubmitJob: %+v, %d calls", resp, len(srv.recorded()))
			}
			// The records a batch job writes: per-image outputs and the job's.
			s, _ := open(ctx, "s3://"+bucket+"/")
			for _, k := range []string{"output/a.jpg.json", "output/sub/b.jpg.json",
				"output/_jobs/mlserve-req-d-direct/results-0.jsonl", "output/_jobs/mlserve-req-d-direct/summary.json"} {
				if ok, _ := s3io.Exists(ctx, s, k); !ok {
					t.Errorf("no %s", k)
				}
			}
			// The model stays loaded for the next window.
			if _, err := h.Invoke(ctx, sqsEventJSON(t, msg{id: "m2", body: s3Body(t, bucket, "input/a.jpg")})); err != nil || loads != 1 {
				t.Errorf("second burst: %v, %d loads", err, loads)
			}
		})
	}
}

// The sweep submits one job for the inputs without a result.
func TestSweep(t *testing.T) {
	bucket, open := memBucket(t, "input/done.jpg", "output/done.jpg.json", "input/new1.jpg", "input/x/new2.png", "input/notes.txt")
	srv := newBatchServer(t)
	store := newMemStore()
	cfg := s3Config()
	cfg.Scale = ScaleConfig{Bucket: bucket, OpenStore: open}
	h := New(cfg, nil, srv.client(aws.NopRetryer{}), store, testLogger(t))
	out, err := h.Invoke(lambdaCtx("req-s"), json.RawMessage(`{"sweep":{"prefix":"input/"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*SweepResponse)
	if resp.Missing != 2 || len(resp.Jobs) != 1 || len(srv.recorded()) != 1 {
		t.Fatalf("response %+v", resp)
	}
	man, _ := store.get("s3://" + bucket + "/manifests/mlserve-req-s.jsonl")
	if want := "\"s3://" + bucket + "/input/new1.jpg\"\n\"s3://" + bucket + "/input/x/new2.png\"\n"; string(man) != want {
		t.Errorf("manifest %q, want %q", man, want)
	}
	// Without a bucket anywhere: a configuration error.
	h = New(s3Config(), nil, srv.client(aws.NopRetryer{}), store, testLogger(t))
	if _, err := h.Invoke(lambdaCtx("r"), json.RawMessage(`{"sweep":{"prefix":"input/"}}`)); err == nil {
		t.Error("sweep without a bucket: want an error")
	} else if _, ok := err.(*ConfigError); !ok {
		t.Errorf("err %T %v, want *ConfigError", err, err)
	}
}

// Keys as S3 notifications carry them (form-encoded: a space is "+", a
// plus is "%2B") and as the EventBridge rule's compact body carries them
// (the JSON string of the key as it is): both decode to the same key.
func TestSQSKeyForms(t *testing.T) {
	keys := []string{
		"input/two words.jpg",
		"input/a+b.jpg",
		"input/100%.jpg",
		"input/café/日本語 ü.png",
		`input/say "cheese".jpg`,
		`input/back\slash 'single'.jpg`,
	}
	// S3 encodes keys as url.QueryEscape does, except that it leaves "/".
	s3Encode := func(k string) string { return strings.ReplaceAll(url.QueryEscape(k), "%2F", "/") }
	for _, form := range []string{"s3", "compact", "eventbridge"} {
		t.Run(form, func(t *testing.T) {
			srv := newBatchServer(t)
			store := newMemStore()
			h := New(s3Config(), nil, srv.client(aws.NopRetryer{}), store, testLogger(t))
			var msgs []msg
			for i, k := range keys {
				body := s3Body(t, testBucket, s3Encode(k))
				if form == "compact" {
					// The rule's template {"bucket":<b>,"key":<k>}: EventBridge
					// writes each value as a JSON string.
					body = `{"bucket":` + string(mustJSON(t, testBucket)) + `,"key":` + string(mustJSON(t, k)) + `}`
				}
				if form == "eventbridge" {
					body = eventBridgeBody(t, "Object Created", testBucket, k)
				}
				msgs = append(msgs, msg{id: fmt.Sprintf("m%d", i), body: body})
			}
			out, err := h.Invoke(lambdaCtx("req-k"+form), sqsEventJSON(t, msgs...))
			if err != nil {
				t.Fatal(err)
			}
			if resp := out.(*SQSResponse); len(resp.BatchItemFailures) != 0 || len(resp.Skipped) != 0 || len(resp.Jobs) != 1 {
				t.Fatalf("response %+v", resp)
			}
			man, ok := store.get("s3://" + testBucket + "/manifests/mlserve-req-k" + form + ".jsonl")
			if !ok {
				t.Fatal("no manifest")
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(string(man)), "\n") {
				var uri string
				if err := json.Unmarshal([]byte(line), &uri); err != nil {
					t.Fatalf("manifest line %q: %v", line, err)
				}
				got = append(got, strings.TrimPrefix(uri, "s3://"+testBucket+"/"))
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("manifest keys\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestSQSBodies: which bodies a window takes, acknowledges with a reason,
// or reports as failed (so they end in the dead-letter queue).
func TestSQSBodies(t *testing.T) {
	tests := []struct {
		name, body         string
		jobs, skip, failed int
	}{
		{"eventbridge upload", eventBridgeBody(t, "Object Created", testBucket, "input/a.jpg"), 1, 0, 0},
		{"eventbridge delete", eventBridgeBody(t, "Object Deleted", testBucket, "input/a.jpg"), 0, 1, 0},
		{"eventbridge without key", eventBridgeBody(t, "Object Created", testBucket, ""), 0, 0, 1},
		{"eventbridge from another source", strings.Replace(eventBridgeBody(t, "Object Created", testBucket, "input/a.jpg"), `"aws.s3"`, `"aws.ec2"`, 1), 0, 0, 1},
		{"s3 test event", `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"` + testBucket + `"}`, 0, 1, 0},
		{"other s3 event field", `{"Event":"s3:Unknown"}`, 0, 0, 1},
		{"not json", `input/a.jpg`, 0, 0, 1},
		{"empty object", `{}`, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBatchServer(t)
			h := New(s3Config(), nil, srv.client(aws.NopRetryer{}), newMemStore(), testLogger(t))
			out, err := h.Invoke(lambdaCtx("req-b"), sqsEventJSON(t, msg{id: "m1", body: tt.body}))
			if err != nil {
				t.Fatal(err)
			}
			resp := out.(*SQSResponse)
			if len(resp.Jobs) != tt.jobs || len(resp.Skipped) != tt.skip || len(resp.BatchItemFailures) != tt.failed {
				t.Errorf("jobs %d, skipped %d, failed %d; want %d, %d, %d (%+v)",
					len(resp.Jobs), len(resp.Skipped), len(resp.BatchItemFailures), tt.jobs, tt.skip, tt.failed, resp)
			}
		})
	}
}
