package lambdaadapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mlserve/mlserve/internal/api"
)

func TestDirectInvoke(t *testing.T) {
	jpeg := readFixture(t, "images/scene-640x427-q90.jpg")
	png := readFixture(t, "images/gray-320x480.png")
	store := newMemStore()
	store.objects["s3://bkt/input/a b+c.jpg"] = jpeg
	store.objects["s3://bkt/input/notes.txt"] = []byte("hello")
	b64 := base64.StdEncoding.EncodeToString

	tests := []struct {
		name    string
		payload string
		topK    int    // predictions wanted in each result
		format  string // of a single result
		errType string // the Go type name Lambda would report
		code    string
	}{
		{name: "image jpeg", payload: `{"image":"` + b64(jpeg) + `"}`, topK: 5, format: "jpeg"},
		{name: "image png top_k", payload: `{"image":"` + b64(png) + `","top_k":2}`, topK: 2, format: "png"},
		{name: "image unpadded base64", payload: `{"image":"` + strings.TrimRight(b64(png), "=") + `"}`, topK: 5, format: "png"},
		{name: "s3_uri", payload: `{"s3_uri":"s3://bkt/input/a b+c.jpg"}`, topK: 5, format: "jpeg"},
		{name: "images", payload: `{"images":["` + b64(jpeg) + `","` + b64([]byte("nope")) + `","` + b64(png) + `"]}`, topK: 5},
		{name: "s3_uri not an image", payload: `{"s3_uri":"s3://bkt/input/notes.txt"}`, errType: "ImageError", code: "not_an_image"},
		{name: "s3_uri missing", payload: `{"s3_uri":"s3://bkt/input/gone.jpg"}`, errType: "ObjectReadError"},
		{name: "s3_uri not s3", payload: `{"s3_uri":"/etc/passwd"}`, errType: "BadRequestError", code: api.CodeBadRequest},
		{name: "s3_uri no key", payload: `{"s3_uri":"s3://bkt"}`, errType: "BadRequestError", code: api.CodeBadRequest},
		{name: "image bad base64", payload: `{"image":"@@@"}`, errType: "BadRequestError", code: api.CodeBadRequest},
		{name: "image empty", payload: `{"image":""}`, errType: "ImageError", code: "empty"},
		{name: "image wrong type", payload: `{"image":42}`, errType: "BadRequestError", code: api.CodeBadRequest},
		{name: "two inputs", payload: `{"image":"` + b64(png) + `","s3_uri":"s3://bkt/k.jpg"}`, errType: "BadRequestError", code: api.CodeBadRequest},
		{name: "images empty", payload: `{"images":[]}`, errType: "BadRequestError", code: api.CodeBadRequest},
		{name: "images bad base64", payload: `{"images":["` + b64(png) + `","!"]}`, errType: "BadRequestError", code: api.CodeBadRequest},
		{name: "bad top_k", payload: `{"image":"` + b64(png) + `","top_k":-1}`, errType: "BadRequestError", code: api.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Config{TopK: 5}, &fakeClassifier{}, nil, store, testLogger(t))
			out, err := h.Invoke(context.Background(), json.RawMessage(tc.payload))
			if tc.errType != "" {
				if err == nil {
					t.Fatalf("Invoke = %+v, want a %s", out, tc.errType)
				}
				if got := lambdaErrorType(err); got != tc.errType {
					t.Fatalf("error %T (%v), want %s", err, err, tc.errType)
				}
				if tc.code != "" && !strings.HasPrefix(errCode(err), tc.code) {
					t.Errorf("error %v, want code %q", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			// Decode what Lambda sends back.
			raw := mustJSON(t, out)
			if strings.Contains(tc.payload, `"images"`) {
				var br DirectBatchResponse
				if err := json.Unmarshal(raw, &br); err != nil || len(br.Results) != 3 {
					t.Fatalf("response %s", raw)
				}
				if br.Results[0].Error != nil || br.Results[1].Error == nil || br.Results[1].Error.Code != "not_an_image" || br.Results[2].Image.Format != "png" {
					t.Fatalf("results %s", raw)
				}
				return
			}
			var r api.Result
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			if r.Error != nil || len(r.Predictions) != tc.topK || r.Image.Format != tc.format {
				t.Fatalf("result %s", raw)
			}
			if strings.Contains(tc.payload, "s3_uri") && (r.Source == nil || r.Source.URI != "s3://bkt/input/a b+c.jpg" || r.Source.Size != int64(len(jpeg))) {
				t.Errorf("source %+v", r.Source)
			}
		})
	}
}

func TestDirectInvokeObjectReadError(t *testing.T) {
	h := New(Config{}, &fakeClassifier{}, nil, newMemStore(), testLogger(t))
	_, err := h.Invoke(context.Background(), json.RawMessage(`{"s3_uri":"s3://bkt/input/gone.jpg"}`))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err %v does not wrap the store's error", err)
	}
	h = New(Config{MaxObjectBytes: 10}, &fakeClassifier{}, nil, &memStore{objects: map[string][]byte{"s3://b/k.jpg": make([]byte, 11)}}, testLogger(t))
	_, err = h.Invoke(context.Background(), json.RawMessage(`{"s3_uri":"s3://b/k.jpg"}`))
	if ie, ok := err.(*ImageError); !ok || ie.Code != "too_large" {
		t.Errorf("err %v, want an *ImageError too_large", err)
	}
	h = New(Config{}, &fakeClassifier{}, nil, nil, testLogger(t))
	if _, err = h.Invoke(context.Background(), json.RawMessage(`{"s3_uri":"s3://b/k.jpg"}`)); lambdaErrorType(err) != "ConfigError" {
		t.Errorf("err %v, want a ConfigError without a store", err)
	}
}

func TestDirectInvokeTooLarge(t *testing.T) {
	big := base64.StdEncoding.EncodeToString(make([]byte, MaxSyncPayload))
	h := New(Config{InputPrefix: "input/"}, &fakeClassifier{}, nil, nil, testLogger(t))
	_, err := h.Invoke(context.Background(), json.RawMessage(`{"image":"`+big+`"}`))
	be, ok := err.(*BadRequestError)
	if !ok || be.Code != api.CodeBodyTooLarge || !strings.Contains(be.Message, `"input/" prefix`) {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownEvent(t *testing.T) {
	for _, tc := range []struct {
		payload, received string
	}{
		{`{"foo":1,"bar":{"x":2}}`, "a JSON object with keys [bar, foo]"},
		{`{}`, "an empty JSON object"},
		{`[1,2]`, "a JSON array"},
		{`"hello"`, "a JSON string"},
		{`null`, "JSON null"},
		{`42`, "a JSON number"},
		{`{"Records":[{"eventSource":"aws:sns","body":"x"}]}`, `a JSON object with keys [Records] and Records from "aws:sns"`},
		{`{"Records":[]}`, "a JSON object with keys [Records]"},
		{`{"detail-type":"Object Created","source":"aws.s3","detail":{}}`, "a JSON object with keys [detail, detail-type, source]"},
		{`{"version":"2.0","rawPath":"/predict"}`, "a JSON object with keys [rawPath, version]"},
		{`{"image":`, "invalid JSON"},
		{``, "an empty payload"},
	} {
		t.Run(tc.payload, func(t *testing.T) {
			h := New(Config{}, &fakeClassifier{}, nil, nil, testLogger(t))
			_, err := h.Invoke(context.Background(), json.RawMessage(tc.payload))
			ue, ok := err.(*UnknownEventError)
			if !ok {
				t.Fatalf("err = %T %v, want *UnknownEventError", err, err)
			}
			if ue.Received != tc.received || !strings.Contains(ue.Error(), tc.received) {
				t.Errorf("Received = %q, want %q", ue.Received, tc.received)
			}
		})
	}
}

// TestConcurrentInvokes runs every kind of event at once (run with -race):
// the handler holds no per-request state.
func TestConcurrentInvokes(t *testing.T) {
	jpeg := readFixture(t, "images/dog-768x576.jpg")
	store := newMemStore()
	store.objects["s3://bkt/input/d.jpg"] = jpeg
	h := New(s3Config(), &fakeClassifier{}, &fakeSubmitter{}, store, slog.New(slog.DiscardHandler))
	events := []json.RawMessage{
		httpEvent(t, "apigw-rest-v1.json", jpeg, true, "image/jpeg"),
		httpEvent(t, "apigw-http-v2.json", jpeg, true, "image/jpeg"),
		httpEvent(t, "function-url.json", jpeg, true, "image/jpeg"),
		mustJSON(t, loadEvent(t, "s3-many.json")),
		json.RawMessage(`{"s3_uri":"s3://bkt/input/d.jpg"}`),
		json.RawMessage(`{"nope":1}`),
	}
	var wg sync.WaitGroup
	for i := range 48 {
		wg.Go(func() {
			ev := events[i%len(events)]
			out, err := h.Invoke(lambdaCtx("req-"+itoa(i)), ev)
			if i%len(events) == len(events)-1 {
				if err == nil {
					t.Error("unknown event accepted")
				}
				return
			}
			if err != nil || out == nil {
				t.Errorf("event %d: %v", i%len(events), err)
			}
		})
	}
	wg.Wait()
}

// FuzzInvoke feeds arbitrary payloads, seeded with the recorded events: the
// handler answers or returns an error, never panics, and HTTP answers are
// never 200 with an error body.
func FuzzInvoke(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"image":"iVBORw0KGgo="}`))
	f.Add([]byte(`{"images":["/9j/"],"top_k":3}`))
	f.Add([]byte(`{"s3_uri":"s3://b/k"}`))
	f.Add([]byte(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"input/%"}}}]}`))
	store := newMemStore()
	quiet := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, payload []byte) {
		h := New(s3Config(), &fakeClassifier{}, &fakeSubmitter{}, store, quiet)
		out, err := h.Invoke(lambdaCtx("fuzz"), payload)
		if err != nil {
			return
		}
		b, merr := json.Marshal(out)
		if merr != nil {
			t.Fatalf("response does not marshal: %v", merr)
		}
		var r httpResult
		if json.Unmarshal(b, &r) == nil && r.StatusCode == 200 && strings.Contains(r.Body, `"error":{`) {
			t.Fatalf("200 with an error body: %s", b)
		}
	})
}

// lambdaErrorType is the name aws-lambda-go reports as errorType: the Go
// type name of the returned error, pointer stripped.
func lambdaErrorType(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

func errCode(err error) string {
	switch e := err.(type) {
	case *BadRequestError:
		return e.Code
	case *ImageError:
		return e.Code
	}
	return ""
}
