package lambdaadapter

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

const testBucket = "mlserve-images-123456789012" // the bucket in testdata/events/s3-*.json

// wireCall is one request the fake AWS Batch endpoint received.
type wireCall struct {
	Method, Path, Target, Auth string
	Body                       map[string]any
}

// batchServer is a local AWS Batch endpoint: it records SubmitJob calls
// and answers with status and body.
type batchServer struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []wireCall
	status int
	reply  string
	header map[string]string
}

func newBatchServer(t *testing.T) *batchServer {
	s := &batchServer{status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c := wireCall{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization")}
		if err := json.Unmarshal(b, &c.Body); err != nil {
			t.Errorf("SubmitJob body is not JSON: %v: %s", err, b)
		}
		s.mu.Lock()
		s.calls = append(s.calls, c)
		status, reply, header := s.status, s.reply, s.header
		s.mu.Unlock()
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if reply == "" {
			name, _ := c.Body["jobName"].(string)
			reply = `{"jobArn":"arn:aws:batch:us-east-1:123456789012:job/0c6f1f0a-1111-2222-3333-444455556666","jobId":"0c6f1f0a-1111-2222-3333-444455556666","jobName":"` + name + `"}`
		}
		io.WriteString(w, reply)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *batchServer) recorded() []wireCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wireCall(nil), s.calls...)
}

// client is the real SDK client pointed at the server.
func (s *batchServer) client(retryer aws.Retryer) *batch.Client {
	return batch.New(batch.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   awshttp.NewBuildableClient(), // AWS_CA_BUNDLE on this machine refuses a plain *http.Client
		Retryer:      retryer,
	})
}

func lambdaCtx(requestID string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: requestID})
}

func s3Config() Config {
	return Config{
		InputPrefix: "input/", OutputPrefix: "output/",
		JobQueue: "mlserve-queue", JobDefinition: "mlserve-batch:3", JobNamePrefix: "mlserve",
	}
}

// TestS3SubmitJobOnTheWire checks the SubmitJob request as AWS Batch
// receives it: path, JSON body, and the manifest it points to.
func TestS3SubmitJobOnTheWire(t *testing.T) {
	tests := []struct {
		event     string
		keys      []string // decoded, in record order
		arraySize int
		skipped   int
	}{
		{"s3-put.json", []string{"input/my dog photo.jpg"}, 0, 0},
		{"s3-multipart.json", []string{"input/big/scene+1.png"}, 0, 0},
		{"s3-many.json", []string{
			"input/dog.jpg",
			"input/holiday 2024/beach day.JPEG",
			"input/été/café 猫.png",
			"input/1+1=2.webp",
		}, 0, 4}, // four images: one child's worth, a plain job
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			srv := newBatchServer(t)
			store := newMemStore()
			h := New(s3Config(), &fakeClassifier{}, srv.client(aws.NopRetryer{}), store, testLogger(t))
			const reqID = "7f2c9d1e-5b3a-4c8d-9e0f-1a2b3c4d5e6f"
			out, err := h.Invoke(lambdaCtx(reqID), mustJSON(t, loadEvent(t, tc.event)))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			resp := out.(*S3Response)
			if len(resp.Skipped) != tc.skipped {
				t.Errorf("skipped %+v, want %d items", resp.Skipped, tc.skipped)
			}
			calls := srv.recorded()
			if len(calls) != 1 {
				t.Fatalf("%d SubmitJob calls, want 1", len(calls))
			}
			c := calls[0]
			if c.Method != "POST" || c.Path != "/v1/submitjob" {
				t.Errorf("request %s %s, want POST /v1/submitjob", c.Method, c.Path)
			}
			if !strings.HasPrefix(c.Auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(c.Auth, "/us-east-1/batch/aws4_request") {
				t.Errorf("Authorization %q is not a SigV4 signature for batch", c.Auth)
			}
			name := "mlserve-" + reqID
			manifest := "s3://" + testBucket + "/manifests/" + name + ".jsonl"
			want := map[string]any{
				"jobName":       name,
				"jobQueue":      "mlserve-queue",
				"jobDefinition": "mlserve-batch:3",
				"containerOverrides": map[string]any{
					"command": []any{"batch", "--manifest", manifest, "--input", "s3://" + testBucket + "/input/", "--output", "s3://" + testBucket + "/output/"},
				},
				"retryStrategy": map[string]any{
					"attempts": 3.0,
					"evaluateOnExit": []any{
						map[string]any{"onStatusReason": "Host EC2*", "action": "RETRY"},
						map[string]any{"onExitCode": "3", "action": "RETRY"},
						map[string]any{"onExitCode": "1", "action": "EXIT"},
						map[string]any{"onExitCode": "2", "action": "EXIT"},
					},
				},
				"tags": map[string]any{
					"app": "mlserve", "mlserve:trigger": "s3", "mlserve:bucket": testBucket,
					"mlserve:images": itoa(len(tc.keys)),
				},
			}
			if tc.arraySize > 0 {
				want["arrayProperties"] = map[string]any{"size": float64(tc.arraySize)}
				want["containerOverrides"].(map[string]any)["environment"] = []any{
					map[string]any{"name": "MLSERVE_SHARDS", "value": itoa(tc.arraySize)},
				}
			}
			if !reflect.DeepEqual(c.Body, want) {
				t.Errorf("SubmitJob body\n got %s\nwant %s", mustJSON(t, c.Body), mustJSON(t, want))
			}
			// The manifest: JSON Lines of s3:// URIs, one per key, in order.
			data, ok := store.get(manifest)
			if !ok {
				t.Fatalf("no manifest at %s; store has %v", manifest, store.objects)
			}
			var got []string
			dec := json.NewDecoder(strings.NewReader(string(data)))
			for dec.More() {
				var u string
				if err := dec.Decode(&u); err != nil {
					t.Fatalf("manifest line: %v\n%s", err, data)
				}
				got = append(got, u)
			}
			var wantURIs []string
			for _, k := range tc.keys {
				wantURIs = append(wantURIs, "s3://"+testBucket+"/"+k)
			}
			if !reflect.DeepEqual(got, wantURIs) || strings.Count(string(data), "\n") != len(tc.keys) {
				t.Errorf("manifest\n%s\nwant URIs %q", data, wantURIs)
			}
			if len(resp.Jobs) != 1 || resp.Jobs[0].JobID != "0c6f1f0a-1111-2222-3333-444455556666" ||
				resp.Jobs[0].Images != len(tc.keys) || resp.Jobs[0].ArraySize != tc.arraySize || resp.Jobs[0].Manifest != manifest {
				t.Errorf("response jobs %+v", resp.Jobs)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// A ClientException (400) is reported as a *SubmitJobError and not
// retried, with the no-op retryer and with the SDK's standard one.
func TestS3SubmitJobClientException(t *testing.T) {
	for _, tc := range []struct {
		name    string
		retryer aws.Retryer
	}{
		{"nop retryer", aws.NopRetryer{}},
		{"standard retryer", retry.NewStandard()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newBatchServer(t)
			srv.status = 400
			srv.header = map[string]string{"X-Amzn-ErrorType": "ClientException"}
			srv.reply = `{"__type":"ClientException","message":"Job Queue mlserve-queue does not exist"}`
			h := New(s3Config(), &fakeClassifier{}, srv.client(tc.retryer), newMemStore(), testLogger(t))
			out, err := h.Invoke(lambdaCtx("req-1"), mustJSON(t, loadEvent(t, "s3-put.json")))
			se, ok := err.(*SubmitJobError) // unwrapped, so Lambda's errorType is "SubmitJobError"
			if !ok {
				t.Fatalf("Invoke = %v, %v; want a *SubmitJobError", out, err)
			}
			var ce *types.ClientException
			if !errors.As(err, &ce) || !strings.Contains(ce.ErrorMessage(), "does not exist") {
				t.Errorf("error %v does not carry the ClientException", err)
			}
			if se.JobQueue != "mlserve-queue" || se.JobName != "mlserve-req-1" {
				t.Errorf("error %+v", se)
			}
			if n := len(srv.recorded()); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		})
	}
}

func TestS3Skips(t *testing.T) {
	srv := newBatchServer(t)
	h := New(s3Config(), &fakeClassifier{}, srv.client(aws.NopRetryer{}), newMemStore(), testLogger(t))
	out, err := h.Invoke(lambdaCtx("r"), mustJSON(t, loadEvent(t, "s3-skipped-only.json")))
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(*S3Response)
	if len(resp.Jobs) != 0 || len(resp.Skipped) != 2 || len(srv.recorded()) != 0 {
		t.Fatalf("response %+v, %d calls", resp, len(srv.recorded()))
	}
	// The reasons name the problem.
	if !strings.Contains(resp.Skipped[0].Reason, "not an image") || !strings.Contains(resp.Skipped[1].Reason, "outside the input prefix") {
		t.Errorf("reasons %+v", resp.Skipped)
	}
	// And the big event's skipped records, one per kind of problem.
	out, err = h.Invoke(lambdaCtx("r2"), mustJSON(t, loadEvent(t, "s3-many.json")))
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, s := range out.(*S3Response).Skipped {
		reasons = append(reasons, s.Key+": "+s.Reason)
	}
	for i, want := range []string{"input/notes.txt: not an image", "output/dog.jpg.json: key is outside", "input/old.jpg: event ObjectRemoved:Delete", "input/bad%ZZ.jpg: key is not URL-encoded"} {
		if i >= len(reasons) || !strings.HasPrefix(reasons[i], want) {
			t.Errorf("skipped[%d] = %q, want prefix %q", i, reasons, want)
		}
	}
}

func TestS3Config(t *testing.T) {
	cfg := s3Config()
	cfg.JobQueue = ""
	h := New(cfg, &fakeClassifier{}, nil, newMemStore(), testLogger(t))
	_, err := h.Invoke(lambdaCtx("r"), mustJSON(t, loadEvent(t, "s3-put.json")))
	if ce, ok := err.(*ConfigError); !ok || !strings.Contains(ce.Error(), "MLSERVE_JOB_QUEUE") {
		t.Fatalf("err = %v, want a *ConfigError naming MLSERVE_JOB_QUEUE", err)
	}
}

func TestS3ManifestWriteFails(t *testing.T) {
	srv := newBatchServer(t)
	store := newMemStore()
	store.writeErr = errBoom
	h := New(s3Config(), &fakeClassifier{}, srv.client(aws.NopRetryer{}), store, testLogger(t))
	_, err := h.Invoke(lambdaCtx("r"), mustJSON(t, loadEvent(t, "s3-put.json")))
	if me, ok := err.(*ManifestError); !ok || !errors.Is(err, errBoom) || !strings.HasPrefix(me.URI, "s3://"+testBucket+"/manifests/") {
		t.Fatalf("err = %v, want a *ManifestError", err)
	}
	if len(srv.recorded()) != 0 {
		t.Error("submitted a job without its manifest")
	}
}

// fakeSubmitter records SubmitJob inputs without a network.
type fakeSubmitter struct {
	mu  sync.Mutex
	ins []*batch.SubmitJobInput
}

func (f *fakeSubmitter) SubmitJob(_ context.Context, in *batch.SubmitJobInput, _ ...func(*batch.Options)) (*batch.SubmitJobOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ins = append(f.ins, in)
	return &batch.SubmitJobOutput{JobId: aws.String("id"), JobName: in.JobName}, nil
}

func TestS3ArraySize(t *testing.T) {
	// 25 keys with 3 images per child: an array of ceil(25/3) = 9.
	var recs []any
	for i := range 25 {
		ev := loadEvent(t, "s3-put.json")
		rec := ev["Records"].([]any)[0].(map[string]any)
		rec["s3"].(map[string]any)["object"].(map[string]any)["key"] = "input/img" + itoa(i) + ".jpg"
		recs = append(recs, rec)
	}
	sub := &fakeSubmitter{}
	cfg := s3Config()
	cfg.Scale.ImagesPerChild = 3
	h := New(cfg, &fakeClassifier{}, sub, newMemStore(), testLogger(t))
	if _, err := h.Invoke(lambdaCtx("r"), mustJSON(t, map[string]any{"Records": recs})); err != nil {
		t.Fatal(err)
	}
	if len(sub.ins) != 1 || aws.ToInt32(sub.ins[0].ArrayProperties.Size) != 9 ||
		aws.ToString(sub.ins[0].ContainerOverrides.Environment[0].Value) != "9" {
		t.Fatalf("inputs %+v", sub.ins)
	}
}

// TestSubmitOnly runs the handler without a model, as the submitter function
// does: S3 events still submit jobs; classification events fail clearly.
func TestSubmitOnly(t *testing.T) {
	srv := newBatchServer(t)
	h := New(s3Config(), nil, srv.client(aws.NopRetryer{}), newMemStore(), testLogger(t))
	out, err := h.Invoke(lambdaCtx("r"), mustJSON(t, loadEvent(t, "s3-put.json")))
	if err != nil {
		t.Fatal(err)
	}
	if resp := out.(*S3Response); len(resp.Jobs) != 1 || len(srv.recorded()) != 1 {
		t.Fatalf("response %+v, %d SubmitJob calls", resp, len(srv.recorded()))
	}
	r := invokeHTTP(t, h, httpEvent(t, "apigw-http-v2.json", []byte("\xff\xd8\xff"), true, "image/jpeg"))
	wantHTTPError(t, r, http.StatusNotImplemented, "submit_only")
	_, err = h.Invoke(lambdaCtx("r2"), json.RawMessage(`{"image": "/9j/"}`))
	if ce, ok := err.(*ConfigError); !ok || !strings.Contains(ce.Error(), "MLSERVE_SUBMIT_ONLY") {
		t.Fatalf("direct invoke: err = %v, want a *ConfigError", err)
	}
}
