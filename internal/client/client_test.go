package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/httpapi"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/internal/testsupport/s3server"
)

// TestSigV4AgainstS3 signs a PutObject with SigV4 for the service s3 and
// sends it to a real S3 server (versitygw), which checks the signature
// itself: an independent verifier of the signing code. A wrong secret
// must be refused, so the check can fail.
func TestSigV4AgainstS3(t *testing.T) {
	srv := s3server.Start(t)
	bucket := srv.NewBucket(t)
	for _, tc := range []struct {
		secret string
		status int
	}{{srv.SecretKey, 200}, {srv.SecretKey + "x", 403}} {
		s := NewSigV4(credentials.NewStaticCredentialsProvider(srv.AccessKey, tc.secret, ""), "127.0.0.1", srv.Region)
		s.Service = "s3"
		body := []byte("signed body")
		req, err := http.NewRequest("PUT", srv.Endpoint+"/"+bucket+"/signed.txt", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Authorize(context.Background(), req, body); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("secret %q: status %d, want %d: %s", tc.secret, resp.StatusCode, tc.status, b)
		}
	}
}

// TestFallbackAndAuth: a 413 from the endpoint (or a gateway before it)
// sends the image through the upload flow; the bearer token goes to the
// endpoint and never to the presigned URL; errors keep their code.
func TestFallbackAndAuth(t *testing.T) {
	img := testsupport.ReadFixture(t, "images", "tiny-60x45.png")
	var uploaded atomic.Int64
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the presigned PUT carried Authorization %q", r.Header.Get("Authorization"))
		}
		b, _ := io.ReadAll(r.Body)
		uploaded.Store(int64(len(b)))
	}))
	defer s3.Close()
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			httpapi.WriteJSON(w, 401, map[string]string{"message": "Unauthorized"})
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/prod/uploads":
			httpapi.WriteJSON(w, 200, httpapi.UploadTicket{Method: "PUT", URL: s3.URL + "/b/uploads/k", Key: "uploads/k"})
		case r.Header.Get("Content-Type") == "application/json" && strings.Contains(string(body), `"uploads/k"`):
			httpapi.WriteJSON(w, 200, api.Result{Model: "m", Predictions: []infer.Prediction{{Rank: 1, ClassID: 7}}})
		default: // a gateway's own answer to a body over its limit
			w.WriteHeader(413)
			w.Write([]byte(`{"message":"Request Entity Too Large"}`))
		}
	}))
	defer endpoint.Close()
	c, err := New(Options{Endpoint: endpoint.URL + "/prod/predict", Auth: Bearer("tok")})
	if err != nil {
		t.Fatal(err)
	}
	r, sent, err := c.Classify(context.Background(), img)
	if err != nil || !sent.Uploaded || uploaded.Load() != int64(len(img)) || r.Predictions[0].ClassID != 7 {
		t.Fatalf("got %+v %+v %v; uploaded %d bytes", r, sent, err, uploaded.Load())
	}
	c, _ = New(Options{Endpoint: endpoint.URL + "/prod"})
	_, _, err = c.Classify(context.Background(), img)
	var e *Error
	if !errors.As(err, &e) || e.Status != 401 || e.Code != "http_401" || e.Message != "Unauthorized" {
		t.Errorf("without the token: %v", err)
	}
}

// TestRetry: 429 and 503 answers are retried (Retry-After honoured), other
// errors are not.
func TestRetry(t *testing.T) {
	img := testsupport.ReadFixture(t, "images", "tiny-60x45.png")
	for _, tc := range []struct {
		status, failures, calls int
		ok                      bool
	}{
		{http.StatusServiceUnavailable, 2, 3, true},
		{http.StatusTooManyRequests, 1, 2, true},
		{http.StatusServiceUnavailable, 9, retries + 1, false},
		{http.StatusBadRequest, 1, 1, false},
	} {
		var calls atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) <= int64(tc.failures) {
				w.Header().Set("Retry-After", "0")
				httpapi.WriteJSON(w, tc.status, map[string]string{"message": "busy"})
				return
			}
			httpapi.WriteJSON(w, 200, api.Result{Model: "m", Predictions: []infer.Prediction{{Rank: 1, ClassID: 3}}})
		}))
		c, _ := New(Options{Endpoint: srv.URL})
		_, _, err := c.Classify(context.Background(), img)
		srv.Close()
		if (err == nil) != tc.ok || calls.Load() != int64(tc.calls) {
			t.Errorf("%d x%d: err %v after %d calls, want ok=%v after %d", tc.status, tc.failures, err, calls.Load(), tc.ok, tc.calls)
		}
	}
}
