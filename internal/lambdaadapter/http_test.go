package lambdaadapter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/infer"
)

// httpResult is the common part of the v1 and v2 responses.
type httpResult struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
	Base64     bool              `json:"isBase64Encoded"`
}

// invokeHTTP runs the handler and decodes its response the way the
// gateway does: from the JSON Lambda returns.
func invokeHTTP(t *testing.T, h *Handler, ev json.RawMessage) httpResult {
	t.Helper()
	out, err := h.Invoke(context.Background(), ev)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var r httpResult
	if err := json.Unmarshal(mustJSON(t, out), &r); err != nil {
		t.Fatal(err)
	}
	if got := r.Headers["Content-Type"]; got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	return r
}

func TestHTTPPredict(t *testing.T) {
	jpeg := readFixture(t, "images/dog-768x576.jpg")
	png := readFixture(t, "images/scene-500x375.png")
	for _, evName := range []string{"apigw-rest-v1.json", "apigw-http-v2.json", "function-url.json"} {
		for _, img := range []struct {
			name, contentType, format string
			data                      []byte
		}{
			{"jpeg", "image/jpeg", "jpeg", jpeg},
			{"png", "image/png", "png", png},
			{"octet-stream", "application/octet-stream", "png", png},
			{"no-content-type", "", "jpeg", jpeg},
		} {
			t.Run(evName+"/"+img.name, func(t *testing.T) {
				clf := &fakeClassifier{}
				h := New(Config{TopK: 3, InputPrefix: "input/"}, clf, nil, nil, testLogger(t))
				r := invokeHTTP(t, h, httpEvent(t, evName, img.data, true, img.contentType))
				if r.StatusCode != http.StatusOK {
					t.Fatalf("status %d, body %s", r.StatusCode, r.Body)
				}
				if !bytes.Equal(clf.lastCall(), img.data) {
					t.Fatalf("classifier got %d bytes, want the %d-byte image", len(clf.lastCall()), len(img.data))
				}
				var res api.Result
				if err := json.Unmarshal([]byte(r.Body), &res); err != nil {
					t.Fatalf("body is not a Result: %v: %s", err, r.Body)
				}
				if res.Error != nil || len(res.Predictions) != 3 || res.Image.Format != img.format {
					t.Fatalf("result %+v", res)
				}
			})
		}
	}
}

// TestHTTPJSON sends the JSON bodies mlserve serve takes: {"image"} answers
// one result, {"images"} a list with per-item errors.
func TestHTTPJSON(t *testing.T) {
	jpeg := readFixture(t, "images/dog-768x576.jpg")
	b64 := base64.StdEncoding.EncodeToString(jpeg)
	for _, evName := range []string{"apigw-rest-v1.json", "apigw-http-v2.json", "function-url.json"} {
		t.Run(evName, func(t *testing.T) {
			clf := &fakeClassifier{}
			h := New(Config{TopK: 2}, clf, nil, nil, testLogger(t))
			r := invokeHTTP(t, h, httpEvent(t, evName, []byte(`{"image": "`+b64+`"}`), false, "application/json"))
			var one api.Result
			if err := json.Unmarshal([]byte(r.Body), &one); r.StatusCode != http.StatusOK || err != nil || len(one.Predictions) != 2 {
				t.Fatalf("image: status %d, %v: %s", r.StatusCode, err, r.Body)
			}
			if !bytes.Equal(clf.lastCall(), jpeg) {
				t.Fatal("the classifier did not get the decoded image")
			}
			body := `{"images": ["` + b64 + `", "` + base64.StdEncoding.EncodeToString([]byte("hello")) + `"]}`
			r = invokeHTTP(t, h, httpEvent(t, evName, []byte(body), true, "application/json"))
			var list []api.Result
			if err := json.Unmarshal([]byte(r.Body), &list); r.StatusCode != http.StatusOK || err != nil || len(list) != 2 {
				t.Fatalf("images: status %d, %v: %s", r.StatusCode, err, r.Body)
			}
			if list[0].Error != nil || list[1].Error == nil || list[1].Error.Code != "not_an_image" {
				t.Errorf("per-item results %+v", list)
			}
		})
	}
}

// A gateway that does not treat the body as binary passes it as text, with
// every byte that is not UTF-8 replaced: the handler must answer 4xx with a
// hint, never 200 or 500.
func TestHTTPRawBody(t *testing.T) {
	jpeg := readFixture(t, "images/dog-768x576.jpg")
	for _, evName := range []string{"apigw-rest-v1.json", "apigw-http-v2.json", "function-url.json"} {
		t.Run(evName+"/mangled-jpeg", func(t *testing.T) {
			clf := &fakeClassifier{}
			h := New(Config{}, clf, nil, nil, testLogger(t))
			r := invokeHTTP(t, h, httpEvent(t, evName, jpeg, false, "image/jpeg"))
			e := wantHTTPError(t, r, http.StatusBadRequest, "not_an_image")
			if !strings.Contains(e.Message, "binaryMediaTypes") {
				t.Errorf("message %q has no hint about binary media types", e.Message)
			}
		})
		t.Run(evName+"/text-passes-unchanged", func(t *testing.T) {
			clf := &fakeClassifier{}
			h := New(Config{}, clf, nil, nil, testLogger(t))
			body := []byte("P3 1 1 255 0 0 0 +/= \u00e9") // valid UTF-8 survives the JSON event as is
			r := invokeHTTP(t, h, httpEvent(t, evName, body, false, "application/octet-stream"))
			wantHTTPError(t, r, http.StatusBadRequest, "not_an_image")
			if !bytes.Equal(clf.lastCall(), body) {
				t.Fatalf("classifier got %q, want %q", clf.lastCall(), body)
			}
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	jpeg := readFixture(t, "images/dog-768x576.jpg")
	over := bytes.Repeat([]byte{0xFF}, MaxSyncPayload+1)
	overText := bytes.Repeat([]byte("A"), MaxSyncPayload+1)
	tests := []struct {
		name   string
		event  string
		body   []byte
		b64    bool
		ct     string
		edit   func(ev map[string]any)
		cfg    Config
		status int
		code   string
		msg    string // a substring of the message
	}{
		{name: "empty body", event: "apigw-http-v2.json", b64: true, ct: "image/jpeg", status: 400, code: "empty"},
		{name: "bad base64", event: "apigw-rest-v1.json", body: []byte("not base64!"), ct: "image/jpeg", status: 400, code: api.CodeBadRequest,
			edit: func(ev map[string]any) { ev["isBase64Encoded"] = true }},
		{name: "not an image", event: "function-url.json", body: []byte("hello"), b64: true, ct: "image/jpeg", status: 400, code: "not_an_image"},
		{name: "unsupported format", event: "apigw-rest-v1.json", body: []byte("BM\x36\x00"), b64: true, ct: "image/bmp", status: 415, code: "unsupported_format"},
		{name: "json content type, image body", event: "apigw-http-v2.json", body: jpeg, b64: true, ct: "application/json", status: 400, code: api.CodeBadRequest},
		{name: "json without image", event: "apigw-http-v2.json", body: []byte(`{"picture": "x"}`), b64: false, ct: "application/json", status: 400, code: api.CodeNoImage},
		{name: "json bad base64", event: "function-url.json", body: []byte(`{"image": "***"}`), b64: false, ct: "application/json", status: 400, code: api.CodeBadRequest},
		{name: "multipart form", event: "apigw-rest-v1.json", body: jpeg, b64: true, ct: "multipart/form-data; boundary=x", status: 400, code: api.CodeBadRequest},
		{name: "engine failure", event: "apigw-http-v2.json", body: []byte("ENGINE-FAILS"), b64: true, ct: "image/jpeg", status: 500, code: infer.CodeInternal},
		{name: "GET", event: "apigw-http-v2.json", body: jpeg, b64: true, ct: "image/jpeg", status: 405, code: api.CodeMethodNotAllowed,
			edit: func(ev map[string]any) {
				ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "GET"
			}},
		{name: "REST GET", event: "apigw-rest-v1.json", body: jpeg, b64: true, ct: "image/jpeg", status: 405, code: api.CodeMethodNotAllowed,
			edit: func(ev map[string]any) { ev["httpMethod"] = "GET" }},
		{name: "other path", event: "function-url.json", body: jpeg, b64: true, ct: "image/jpeg", status: 404, code: api.CodeNotFound,
			edit: func(ev map[string]any) { ev["rawPath"] = "/" }},
		{name: "bad top_k", event: "apigw-rest-v1.json", body: jpeg, b64: true, ct: "image/jpeg", status: 400, code: api.CodeBadRequest,
			edit: func(ev map[string]any) { ev["queryStringParameters"] = map[string]any{"top_k": "0"} }},
		{name: "over 6 MB", event: "apigw-http-v2.json", body: over, b64: true, ct: "image/jpeg", status: 413, code: api.CodeBodyTooLarge,
			cfg: Config{InputPrefix: "input/"}, msg: `(6 MB) synchronous payload limit (base64 adds a third); for large images or many of them upload to the bucket's "input/" prefix`},
		{name: "over 6 MB raw", event: "apigw-rest-v1.json", body: overText, ct: "image/jpeg", status: 413, code: api.CodeBodyTooLarge},
		{name: "over configured limit", event: "function-url.json", body: jpeg, b64: true, ct: "image/jpeg", status: 413, code: api.CodeBodyTooLarge,
			cfg: Config{MaxPayload: 100_000}, msg: "AWS Batch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := httpEventEdit(t, tc.event, tc.body, tc.b64, tc.ct, tc.edit)
			h := New(tc.cfg, &fakeClassifier{}, nil, nil, testLogger(t))
			r := invokeHTTP(t, h, raw)
			e := wantHTTPError(t, r, tc.status, tc.code)
			if tc.msg != "" && !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Message, tc.msg)
			}
			if tc.status == 405 && r.Headers["Allow"] != "POST" {
				t.Errorf("Allow = %q, want POST", r.Headers["Allow"])
			}
		})
	}
}

func TestHTTPPaths(t *testing.T) {
	jpeg := readFixture(t, "images/dog-768x576.jpg")
	for _, tc := range []struct {
		event, field, path string
		status             int
	}{
		{"apigw-http-v2.json", "rawPath", "/prod/predict", 200}, // a named stage is part of rawPath
		{"apigw-rest-v1.json", "path", "/predict", 200},
		{"apigw-rest-v1.json", "path", "/predictions", 404},
		{"function-url.json", "rawPath", "/predict/", 404},
	} {
		t.Run(tc.event+tc.path, func(t *testing.T) {
			var ev map[string]any
			if err := json.Unmarshal(httpEvent(t, tc.event, jpeg, true, "image/jpeg"), &ev); err != nil {
				t.Fatal(err)
			}
			ev[tc.field] = tc.path
			r := invokeHTTP(t, New(Config{}, &fakeClassifier{}, nil, nil, testLogger(t)), mustJSON(t, ev))
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tc.status, r.Body)
			}
		})
	}
}

func TestHTTPTopK(t *testing.T) {
	clf := &fakeClassifier{}
	h := New(Config{TopK: 5}, clf, nil, nil, testLogger(t))
	var ev map[string]any
	if err := json.Unmarshal(httpEvent(t, "apigw-http-v2.json", readFixture(t, "images/tiny-60x45.png"), true, "image/png"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["queryStringParameters"] = map[string]any{"top_k": "2"}
	ev["rawQueryString"] = "top_k=2"
	r := invokeHTTP(t, h, mustJSON(t, ev))
	var res api.Result
	if err := json.Unmarshal([]byte(r.Body), &res); err != nil || len(res.Predictions) != 2 {
		t.Fatalf("status %d body %s", r.StatusCode, r.Body)
	}
}

// The handler's answers are the gateway response types, so they marshal to
// what API Gateway and Function URLs expect.
func TestHTTPResponseTypes(t *testing.T) {
	h := New(Config{}, &fakeClassifier{}, nil, nil, testLogger(t))
	png := readFixture(t, "images/tiny-60x45.png")
	out, _ := h.Invoke(context.Background(), httpEvent(t, "apigw-rest-v1.json", png, true, "image/png"))
	if _, ok := out.(events.APIGatewayProxyResponse); !ok {
		t.Errorf("REST v1 answer is %T", out)
	}
	out, _ = h.Invoke(context.Background(), httpEvent(t, "function-url.json", png, true, "image/png"))
	if _, ok := out.(events.APIGatewayV2HTTPResponse); !ok {
		t.Errorf("Function URL answer is %T", out)
	}
}

func wantHTTPError(t *testing.T, r httpResult, status int, code string) api.ErrorInfo {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, status, truncate(r.Body))
	}
	var body struct {
		Error *api.ErrorInfo `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error == nil {
		t.Fatalf("body is not {\"error\":{...}}: %v: %s", err, truncate(r.Body))
	}
	if body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("error %+v, want code %q and a message", body.Error, code)
	}
	return *body.Error
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}
