package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEncodeKey(t *testing.T) {
	tests := map[string]string{
		"input/dog.jpg":         "input/dog.jpg",
		"input/my photo.jpg":    "input/my+photo.jpg",
		"input/a+b%.jpg":        "input/a%2Bb%25.jpg",
		"input/sub dir/ü.png":   "input/sub+dir/%C3%BC.png",
		"input//double/sep.jpg": "input//double/sep.jpg",
	}
	for key, want := range tests {
		if got := EncodeKey(key); got != want {
			t.Errorf("EncodeKey(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestRuleAction(t *testing.T) {
	rules := []ExitRule{
		{OnStatusReason: "Host EC2*", Action: "RETRY"},
		{OnExitCode: "3", Action: "RETRY"},
		{OnExitCode: "1", Action: "EXIT"},
		{OnExitCode: "2", Action: "exit"},
		{OnExitCode: "13*", Action: "EXIT"},
	}
	tests := map[int]string{0: "RETRY", 1: "EXIT", 2: "EXIT", 3: "RETRY", 137: "EXIT", 255: "RETRY"}
	for code, want := range tests {
		if got := ruleAction(rules, code); got != want {
			t.Errorf("exit %d: got %s, want %s", code, got, want)
		}
	}
}

func TestSubstitute(t *testing.T) {
	got := substitute([]string{"batch", "--manifest", "Ref::manifest", "--output", "Ref::output", "Ref::unset"},
		map[string]string{"manifest": "s3://b/m.jsonl", "output": "s3://b/out/"})
	want := []string{"batch", "--manifest", "s3://b/m.jsonl", "--output", "s3://b/out/", "Ref::unset"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// versitygwEvent is a record as versitygw v1.8.0 posts it.
func versitygwEvent(name, key string) []byte {
	b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.2", "eventSource": "aws:s3", "awsRegion": "us-east-1",
		"eventName": name,
		"s3": map[string]any{
			"bucket": map[string]any{"name": "mlserve", "arn": "arn:aws:s3:::mlserve"},
			"object": map[string]any{"key": key, "size": 10},
		},
	}}})
	return b
}

func TestRelay(t *testing.T) {
	var got [][]byte
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, b)
		w.Write([]byte(`{"jobs":[]}`))
	}))
	defer fn.Close()
	relay := &Relay{Prefix: "input/", InvokeURL: fn.URL, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go relay.Run(ctx)

	posts := [][]byte{
		[]byte(`{"Service":"S3","Event":"s3:TestEvent","Bucket":"Test-Bucket"}`), // sent at startup
		versitygwEvent("s3:ObjectCreated:Put", "input/my photo.jpg"),
		versitygwEvent("s3:ObjectCreated:CompleteMultipartUpload", "input/big.jpg"),
		versitygwEvent("s3:ObjectCreated:Put", "output/my photo.jpg.json"), // outside the prefix
		versitygwEvent("s3:ObjectRemoved:Delete", "input/old.jpg"),
	}
	for _, p := range posts {
		rec := httptest.NewRecorder()
		relay.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/s3-events", bytes.NewReader(p)))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("POST %s: %d", p, rec.Code)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		done, pending := relay.Invocations()
		if len(done) == 2 && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invocations: %d done, %d pending", len(done), pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := []struct{ name, key string }{
		{"ObjectCreated:Put", "input/my+photo.jpg"},
		{"ObjectCreated:CompleteMultipartUpload", "input/big.jpg"},
	}
	for i, w := range want {
		var ev struct {
			Records []struct {
				EventName   string `json:"eventName"`
				EventSource string `json:"eventSource"`
				S3          struct {
					Object struct {
						Key string `json:"key"`
					} `json:"object"`
				} `json:"s3"`
			}
		}
		if err := json.Unmarshal(got[i], &ev); err != nil || len(ev.Records) != 1 {
			t.Fatalf("event %d: %v: %s", i, err, got[i])
		}
		r := ev.Records[0]
		if r.EventName != w.name || r.S3.Object.Key != w.key || r.EventSource != "aws:s3" {
			t.Errorf("event %d: %+v, want %s %s", i, r, w.name, w.key)
		}
	}
}

// TestBatch submits through the HTTP API and runs a shell script as the
// job's program: parameters, overrides, array children and retry rules.
func TestBatch(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog.sh")
	// Records its arguments and environment; exits with $EXIT_CODE.
	script := `#!/bin/sh
echo "$* index=${AWS_BATCH_JOB_ARRAY_INDEX:-none} attempt=$AWS_BATCH_JOB_ATTEMPT" >> "$LOG"
exit "${EXIT_CODE:-0}"
`
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	b := &Batch{
		Region: "us-east-1", Account: "000000000000", Queue: "q", Definition: "d",
		Command: []string{"batch", "--manifest", "Ref::manifest"}, Parameters: map[string]string{"manifest": "default.jsonl"},
		Attempts: 3, EvaluateOnExit: []ExitRule{{OnExitCode: "3", Action: "RETRY"}, {OnExitCode: "1", Action: "EXIT"}},
		Exec: prog, Env: []string{"PATH=" + os.Getenv("PATH")}, Log: slog.New(slog.DiscardHandler),
	}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Run(ctx)

	submit := func(body string) (int, map[string]string) {
		resp, err := http.Post(srv.URL+"/v1/submitjob", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	logf := func(name string) string { return filepath.Join(dir, name+".log") }
	env := func(name, code string) string {
		return `[{"name":"LOG","value":"` + logf(name) + `"},{"name":"EXIT_CODE","value":"` + code + `"}]`
	}
	jobs := []struct {
		name, body string
		status     string
		runs       int
		log        string
	}{
		{"params", `{"jobName":"params","jobQueue":"q","jobDefinition":"d","parameters":{"manifest":"m.jsonl"},"containerOverrides":{"environment":` + env("params", "0") + `}}`,
			"SUCCEEDED", 1, "batch --manifest m.jsonl index=none attempt=1\n"},
		{"override", `{"jobName":"override","jobQueue":"arn:aws:batch:us-east-1:000000000000:job-queue/q","jobDefinition":"arn:aws:batch:us-east-1:000000000000:job-definition/d:1","containerOverrides":{"command":["batch","--manifest","x"],"environment":` + env("override", "0") + `}}`,
			"SUCCEEDED", 1, "batch --manifest x index=none attempt=1\n"},
		{"array", `{"jobName":"array","jobQueue":"q","jobDefinition":"d","arrayProperties":{"size":2},"containerOverrides":{"environment":` + env("array", "0") + `}}`,
			"SUCCEEDED", 2, "batch --manifest default.jsonl index=0 attempt=1\nbatch --manifest default.jsonl index=1 attempt=1\n"},
		{"exit1", `{"jobName":"exit1","jobQueue":"q","jobDefinition":"d","containerOverrides":{"environment":` + env("exit1", "1") + `}}`,
			"FAILED", 1, ""},
		{"exit3", `{"jobName":"exit3","jobQueue":"q","jobDefinition":"d","containerOverrides":{"environment":` + env("exit3", "3") + `}}`,
			"FAILED", 3, ""},
	}
	for _, j := range jobs {
		if code, out := submit(j.body); code != http.StatusOK || out["jobId"] == "" {
			t.Fatalf("submit %s: %d %v", j.name, code, out)
		}
	}
	for _, bad := range []string{
		`{"jobName":"x","jobQueue":"other","jobDefinition":"d"}`,
		`{"jobName":"x","jobQueue":"q","jobDefinition":"other"}`,
		`{"jobName":"-bad name","jobQueue":"q","jobDefinition":"d"}`,
		`{"jobName":"x","jobQueue":"q","jobDefinition":"d","arrayProperties":{"size":1}}`,
	} {
		if code, _ := submit(bad); code != http.StatusBadRequest {
			t.Errorf("submit %s: %d, want 400", bad, code)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := b.Jobs()
		stopped := 0
		for _, j := range all {
			if j.Status == "SUCCEEDED" || j.Status == "FAILED" {
				stopped++
			}
		}
		if stopped == len(jobs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs did not stop: %+v", all)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, j := range b.Jobs() {
		want := jobs[i]
		if j.Name != want.name || j.Status != want.status || len(j.Runs) != want.runs {
			t.Errorf("job %s: status %s, %d runs; want %s, %d runs", j.Name, j.Status, len(j.Runs), want.status, want.runs)
		}
		if want.log != "" {
			b, _ := os.ReadFile(logf(want.name))
			if string(b) != want.log {
				t.Errorf("job %s ran:\n%s\nwant:\n%s", j.Name, b, want.log)
			}
		}
	}
}

// The compact body is what the EventBridge rule writes: JSON strings, the
// key not URL-encoded.
func TestCompactBody(t *testing.T) {
	for _, key := range []string{"input/a.jpg", "input/two words+plus 100%.jpg", `input/say "cheese"\.jpg`, "input/café/日本.png"} {
		var got struct{ Bucket, Key string }
		b := CompactBody("mlserve", key)
		if err := json.Unmarshal(b, &got); err != nil || got.Bucket != "mlserve" || got.Key != key {
			t.Errorf("CompactBody(%q) = %s: %+v, %v", key, b, got, err)
		}
	}
}

// A record is as large as SQS's: a receipt handle of SQS's length, new on
// each receive, and the body's MD5 (checked against the pair in a public
// ReceiveMessage answer: body "boto3").
func TestPollerRecord(t *testing.T) {
	p := &Poller{QueueARN: "arn:aws:sqs:us-east-1:000000000000:mlserve-uploads"}
	m := Message{MessageID: "a664fdea-12a0-4932-bbc0-200209bd6774", ReceiptHandle: "short", Body: "boto3"}
	r1, r2 := p.record(m, 1), p.record(m, 2)
	if r1.MD5OfBody != "6686853da3491a56c98917cc5c4ddea2" {
		t.Errorf("md5OfBody %s", r1.MD5OfBody)
	}
	if len(r1.ReceiptHandle) != 412 || !strings.HasPrefix(r1.ReceiptHandle, "AQEB") || r1.ReceiptHandle == r2.ReceiptHandle {
		t.Errorf("receipt handles %q, %q", r1.ReceiptHandle, r2.ReceiptHandle)
	}
	if r1.handle != "short" || r1.MessageID != m.MessageID || r2.Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("record %+v", r2)
	}
	for _, a := range []string{"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} {
		if r1.Attributes[a] == "" {
			t.Errorf("no attribute %s", a)
		}
	}
	b, _ := json.Marshal(r1)
	if !strings.Contains(string(b), `"eventSourceARN":"arn:aws:sqs:`) || strings.Contains(string(b), "short") {
		t.Errorf("record JSON %s", b)
	}
	// A compact message's record is about 920 bytes, the envelope about
	// 850 of them: at most about 6,800 fit Lambda's 6 MB, not 10,000.
	c, _ := json.Marshal(p.record(Message{MessageID: m.MessageID, ReceiptHandle: "x", Body: string(CompactBody("mlserve", "input/burst-10000/img-09999.jpg"))}, 1))
	if n := len(c); n < 880 || n > 960 {
		t.Errorf("compact record %d bytes: %s", n, c)
	}
	t.Logf("compact record: %d bytes", len(c))
}
