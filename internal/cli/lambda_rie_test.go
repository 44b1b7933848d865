package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// buildMlserve builds the binary into a test directory (go's build cache
// makes the second build a link only).
// rie is an aws-lambda-rie process running `mlserve lambda`.
type rie struct {
	URL  string // the invocations endpoint
	pid  int
	logs *testsupport.SyncBuffer
}

func buildMlserve(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mlserve")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/mlserve/mlserve/cmd/mlserve").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startRIE starts the real Lambda Runtime Interface Emulator on loopback
// ports with `mlserve lambda` as the function; env is added to the
// function's environment.
func startRIE(t *testing.T, env ...string) *rie {
	t.Helper()
	rieBin := testsupport.Tool(t, "aws-lambda-rie", "MLSERVE_TEST_RIE")
	bin := buildMlserve(t)
	addr, apiAddr := freePort(t), freePort(t)
	cmd := exec.Command(rieBin, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, bin, "lambda")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_FUNCTION_TIMEOUT=60", "MLSERVE_CACHE_DIR="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	r := &rie{URL: "http://" + addr + "/2015-03-31/functions/function/invocations", logs: &testsupport.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.pid = cmd.Process.Pid
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("aws-lambda-rie output:\n%s", r.logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not listen on %s:\n%s", addr, r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// invoke posts payload and returns the function's answer; errorType is set
// for a function error (which the RIE returns with status 200).
func (r *rie) invoke(t *testing.T, payload []byte) (raw []byte, errorType string) {
	t.Helper()
	resp, err := http.Post(r.URL, "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("invoke: %d %v: %s", resp.StatusCode, err, raw)
	}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(raw, &fe) == nil && fe.ErrorType != "" {
		return raw, fe.ErrorType
	}
	return raw, ""
}

// recordedEvent reads a recorded event from the lambdaadapter testdata and
// puts body in it, base64-encoded or not.
func recordedEvent(t *testing.T, name string, body []byte, b64 bool, contentType string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "lambdaadapter", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	ev["isBase64Encoded"] = b64
	if b64 {
		ev["body"] = base64.StdEncoding.EncodeToString(body)
	} else {
		ev["body"] = string(body)
	}
	if hs, ok := ev["headers"].(map[string]any); ok {
		for k := range hs {
			if strings.EqualFold(k, "content-type") {
				hs[k] = contentType
			}
		}
	}
	delete(ev, "multiValueHeaders")
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// e2eTop1 is the reference engine's top class and probability for an image
// on the mini-v1 model (meta.json "e2e", made with PyTorch).
func e2eTop1(t *testing.T, image string) (int, float64) {
	t.Helper()
	return testsupport.Top1(t, "mini-v1", image)
}

// TestLambdaRIE runs `mlserve lambda` under the real Runtime Interface
// Emulator with the mini fixture model and sends it every HTTP event shape
// and direct invokes.
func TestLambdaRIE(t *testing.T) {
	model := testsupport.Fixtures(t, "models", "mini-v1-opset11.onnx")
	r := startRIE(t, "MLSERVE_MODEL="+model, "AWS_REGION=us-east-1")
	jpeg, err := os.ReadFile(testsupport.Fixtures(t, "images", "dog-768x576.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(testsupport.Fixtures(t, "images", "scene-500x375.png"))
	if err != nil {
		t.Fatal(err)
	}

	// The first invoke also starts the function: init plus one image.
	start := time.Now()
	raw, et := r.invoke(t, recordedEvent(t, "apigw-rest-v1.json", jpeg, true, "image/jpeg"))
	first := time.Since(start)
	if et != "" {
		t.Fatalf("first invoke: %s", raw)
	}
	t.Logf("first invoke (init + REST v1 JPEG): %v; %s", first.Round(time.Millisecond), initReport(r.logs.String()))

	tests := []rieCase{
		{name: "REST v1 JPEG base64", payload: recordedEvent(t, "apigw-rest-v1.json", jpeg, true, "image/jpeg"), status: 200, image: "dog-768x576.jpg"},
		{name: "HTTP v2 PNG base64", payload: recordedEvent(t, "apigw-http-v2.json", png, true, "image/png"), status: 200, image: "scene-500x375.png"},
		{name: "Function URL JPEG base64", payload: recordedEvent(t, "function-url.json", jpeg, true, "image/jpeg"), status: 200, image: "dog-768x576.jpg"},
		{name: "Function URL PNG base64", payload: recordedEvent(t, "function-url.json", png, true, "application/octet-stream"), status: 200, image: "scene-500x375.png"},
		{name: "REST v1 PNG raw", payload: recordedEvent(t, "apigw-rest-v1.json", png, false, "image/png"), status: 400},
		{name: "HTTP v2 JPEG raw", payload: recordedEvent(t, "apigw-http-v2.json", jpeg, false, "image/jpeg"), status: 400},
		{name: "HTTP v2 truncated JPEG", payload: recordedEvent(t, "apigw-http-v2.json", jpeg[:len(jpeg)/2], true, "image/jpeg"), status: 400},
		{name: "Function URL text", payload: recordedEvent(t, "function-url.json", []byte("hello"), true, "text/plain"), status: 415, errorCode: "unsupported_media_type"},
		{name: "direct image", payload: []byte(`{"image":"` + base64.StdEncoding.EncodeToString(png) + `"}`), image: "scene-500x375.png"},
		{name: "direct images", payload: []byte(`{"images":["` + base64.StdEncoding.EncodeToString(png) + `","aGVsbG8="]}`), resultsLen: 2},
		{name: "direct corrupt image", payload: []byte(`{"image":"aGVsbG8="}`), errorType: "ImageError"},
		{name: "unknown event", payload: []byte(`{"hello":"world"}`), errorType: "UnknownEventError"},
		{name: "S3 event without a job queue", payload: mustRead(t, filepath.Join("..", "lambdaadapter", "testdata", "events", "s3-put.json")), errorType: "ConfigError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			raw, et := r.invoke(t, tc.payload)
			t.Logf("%v", time.Since(start).Round(time.Millisecond))
			tc.check(t, raw, et)
		})
	}
	// Logs are JSON lines with the request id (AWS_LAMBDA_LOG_FORMAT=JSON).
	if !regexp.MustCompile(`\{"timestamp":"[^"]+","level":"INFO","message":"http request".*"requestId":"[0-9a-f-]{36}"`).MatchString(r.logs.String()) {
		t.Errorf("no JSON log line with a requestId in:\n%s", r.logs.String())
	}
}

// rieCase is one invoke of TestLambdaRIE and what its answer must be.
type rieCase struct {
	name       string
	payload    []byte
	status     int    // of an HTTP answer; 0 for a direct invoke
	image      string // fixture whose top-1 the answer must match
	errorType  string // of a function error
	errorCode  string // in an HTTP error body
	resultsLen int    // of a {"results": [...]} answer
}

// check asserts the answer raw (with Lambda's errorType et) of tc.
func (tc rieCase) check(t *testing.T, raw []byte, et string) {
	t.Helper()
	if et != tc.errorType {
		t.Fatalf("errorType %q, want %q: %s", et, tc.errorType, raw)
	}
	if et != "" {
		return
	}
	body := raw
	if tc.status != 0 {
		var hr struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
		if err := json.Unmarshal(raw, &hr); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		if hr.StatusCode != tc.status || hr.Headers["Content-Type"] != "application/json" {
			t.Fatalf("status %d headers %v, want %d: %s", hr.StatusCode, hr.Headers, tc.status, hr.Body)
		}
		body = []byte(hr.Body)
		if tc.status != 200 {
			var eb struct {
				Error api.ErrorInfo `json:"error"`
			}
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
				t.Fatalf("error body %s", body)
			}
			if tc.errorCode != "" && eb.Error.Code != tc.errorCode {
				t.Fatalf("error code %q, want %q", eb.Error.Code, tc.errorCode)
			}
			return
		}
	}
	if tc.resultsLen > 0 {
		var br struct{ Results []api.Result }
		if err := json.Unmarshal(body, &br); err != nil || len(br.Results) != tc.resultsLen || br.Results[1].Error == nil {
			t.Fatalf("results %s", body)
		}
		return
	}
	var res api.Result
	if err := json.Unmarshal(body, &res); err != nil || res.Error != nil || len(res.Predictions) != 5 {
		t.Fatalf("result %s", body)
	}
	// All five against PyTorch's, within testsupport.Top5Tolerance.
	testsupport.CheckPredictions(t, tc.image, res.Predictions, testsupport.References(t)["mini-v1"][tc.image])
}
