package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/httpapi"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/lambdaadapter"
	"github.com/mlserve/mlserve/internal/server"
	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/internal/testsupport/s3server"
	"github.com/mlserve/mlserve/models"
)

// TestUploads runs the upload flow against a real S3 server (versitygw)
// under `mlserve serve` on a socket and the Lambda handler's HTTP API v2
// events: POST /uploads, a PUT to the presigned URL, then /predict by key
// or s3_uri, which must answer as /predict with the image itself.
func TestUploads(t *testing.T) {
	s3srv := s3server.Start(t)
	bucket := s3srv.NewBucket(t)
	other := s3srv.NewBucket(t)
	client := s3srv.Client()
	clf, err := infer.LoadFile(testsupport.Fixtures(t, "models", "mini-v1-opset11.onnx"), infer.Options{Labels: models.ImageNetLabels()})
	if err != nil {
		t.Fatal(err)
	}
	img := testsupport.ReadFixture(t, "images", "dog-768x576.jpg")
	const maxBytes = 1 << 20
	up := &httpapi.Uploads{Bucket: bucket, MaxBytes: maxBytes, Expiry: time.Minute, Store: httpapi.NewS3Objects(client, bucket)}
	s3srv.Put(t, bucket, "input/secret.jpg", img) // outside uploads/: never readable
	s3srv.Put(t, other, "uploads/x.jpg", img)     // another bucket: never readable
	s3srv.Put(t, bucket, "uploads/big.jpg", append(bytes.Clone(img), make([]byte, maxBytes)...))

	srv := startServer(t, server.Config{MaxBodyBytes: 1 << 20, Uploads: up}, clf)
	lh := lambdaadapter.New(lambdaadapter.Config{MaxPayload: 1 << 20, InputPrefix: "input/", Uploads: up}, clf, nil, nil, discard())
	off := startServer(t, server.Config{MaxBodyBytes: 1 << 20}, clf)
	transports := map[string]func(*testing.T, parityCase) answer{
		"serve":  srv,
		"lambda": func(t *testing.T, tc parityCase) answer { return invokeLambda(t, lh, "v2", tc) },
	}
	want := srv(t, parityCase{contentType: "image/jpeg", body: img})
	if want.Status != 200 {
		t.Fatalf("direct predict: %+v", want)
	}
	for name, do := range transports {
		t.Run(name, func(t *testing.T) {
			ticket := newTicket(t, do, `{"size": `+fmt.Sprint(len(img))+`}`)
			if !strings.HasPrefix(ticket.Key, "uploads/") || ticket.MaxBytes != maxBytes || ticket.S3URI != "s3://"+bucket+"/"+ticket.Key {
				t.Fatalf("ticket %+v", ticket)
			}
			if st := presignedPut(t, ticket, img); st != 200 {
				t.Fatalf("PUT to the presigned URL: status %d", st)
			}
			if st := presignedPut(t, ticket, img[:len(img)-1]); st < 400 {
				t.Errorf("PUT of another length than the signed one: status %d, want a refusal", st)
			}
			for _, tc := range []parityCase{
				{name: "key", body: jsonOf(t, map[string]string{"key": ticket.Key}), status: 200},
				{name: "s3_uri", body: jsonOf(t, map[string]string{"s3_uri": ticket.S3URI}), status: 200},
				{name: "outside prefix", body: jsonOf(t, map[string]string{"key": "input/secret.jpg"}), status: 403, code: httpapi.CodeForbiddenKey},
				{name: "dot segments", body: jsonOf(t, map[string]string{"key": "uploads/../input/secret.jpg"}), status: 403, code: httpapi.CodeForbiddenKey},
				{name: "prefix only", body: jsonOf(t, map[string]string{"key": "uploads/"}), status: 403, code: httpapi.CodeForbiddenKey},
				{name: "other bucket", body: jsonOf(t, map[string]string{"s3_uri": "s3://" + other + "/uploads/x.jpg"}), status: 403, code: httpapi.CodeForbiddenKey},
				{name: "bad uri", body: jsonOf(t, map[string]string{"s3_uri": "https://example.com/uploads/x"}), status: 400, code: "bad_request"},
				{name: "both", body: []byte(`{"key":"uploads/a","image":"AAAA"}`), status: 400, code: "bad_request"},
				{name: "missing", body: jsonOf(t, map[string]string{"key": "uploads/nothing-here"}), status: 404, code: httpapi.CodeNoObject},
				{name: "over cap", body: jsonOf(t, map[string]string{"key": "uploads/big.jpg"}), status: 413, code: httpapi.CodeObjectTooLarge},
			} {
				t.Run(tc.name, func(t *testing.T) {
					tc.contentType = "application/json"
					got := do(t, tc)
					if got.Status != tc.status || errorCode(t, got.Body) != tc.code {
						t.Fatalf("got %d %s, want %d %q", got.Status, got.Body, tc.status, tc.code)
					}
					if tc.status == 200 && got.Body != want.Body {
						t.Errorf("by %s:\n%s\nwant the direct answer\n%s", tc.name, got.Body, want.Body)
					}
				})
			}
			over := do(t, parityCase{contentType: "image/jpeg", body: make([]byte, 1<<20+1)})
			if over.Status != 413 || errorCode(t, over.Body) != "body_too_large" || !strings.Contains(over.Body, "POST /uploads") {
				t.Errorf("body over the limit: %+v, want 413 pointing to POST /uploads", over)
			}
			big := do(t, parityCase{path: "/uploads", contentType: "application/json", body: []byte(`{"size": 2000000}`)})
			if big.Status != 413 || errorCode(t, big.Body) != httpapi.CodeObjectTooLarge {
				t.Errorf("ticket over the cap: %+v", big)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		short := *up
		short.Expiry = time.Second
		h := httpapi.New(httpapi.Options{Uploads: &short}, nil)
		ticket := newTicket(t, func(t *testing.T, tc parityCase) answer { return serveDirect(t, h, tc) }, "")
		time.Sleep(2100 * time.Millisecond)
		if st := presignedPut(t, ticket, img); st != http.StatusForbidden {
			t.Errorf("PUT to an expired URL: status %d, want 403 from S3", st)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		for _, tc := range []parityCase{
			{path: "/uploads", contentType: "application/json"},
			{contentType: "application/json", body: []byte(`{"key":"uploads/x"}`)},
		} {
			if got := off(t, tc); got.Status != 501 || errorCode(t, got.Body) != httpapi.CodeUploadsDisabled {
				t.Errorf("%s without uploads: %+v", tc.path, got)
			}
		}
	})
}

func newTicket(t *testing.T, do func(*testing.T, parityCase) answer, body string) httpapi.UploadTicket {
	t.Helper()
	a := do(t, parityCase{path: "/uploads", contentType: "application/json", body: []byte(body)})
	if a.Status != 200 {
		t.Fatalf("POST /uploads: %+v", a)
	}
	var ticket httpapi.UploadTicket
	if err := json.Unmarshal([]byte(a.Body), &ticket); err != nil {
		t.Fatal(err)
	}
	return ticket
}

// presignedPut sends data as the ticket says and returns the status.
func presignedPut(t *testing.T, ticket httpapi.UploadTicket, data []byte) int {
	t.Helper()
	req, err := http.NewRequest(ticket.Method, ticket.URL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range ticket.Headers {
		if !strings.EqualFold(k, "Content-Length") {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the status matters
	return resp.StatusCode
}

func serveDirect(t *testing.T, h http.Handler, tc parityCase) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "POST", tc.path, bytes.NewReader(tc.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", tc.contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return answer{Status: w.Code, Body: w.Body.String()}
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
