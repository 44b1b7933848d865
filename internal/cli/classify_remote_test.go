package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/client"
	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/internal/testsupport/s3server"
)

// TestClassifyEndpoint runs `classify --endpoint` against `mlserve serve`
// on a socket and against `mlserve lambda` under the real Runtime
// Interface Emulator (behind a proxy that turns HTTP requests into HTTP
// API v2 events, as API Gateway does), both with uploads to a real S3
// server (versitygw): the fixture images get the same top-1 class as local
// classify, a 12 MP photo travels in under 300 KB, a 20 MB image goes
// through the upload flow, and a key outside uploads/ is refused.
func TestClassifyEndpoint(t *testing.T) {
	s3srv := s3server.Start(t)
	bucket := s3srv.NewBucket(t)
	s3srv.Setenv(t) // the in-process client's SDK (unused without sigv4) and the children
	model := miniModel(t)
	env := append(s3srv.Env(), "MLSERVE_MODEL="+model, "MLSERVE_UPLOAD_BUCKET="+bucket,
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull)

	dir := t.TempDir()
	photo := filepath.Join(dir, "photo-12mp.jpg")
	big := filepath.Join(dir, "noise-20mb.png")
	writeFile(t, photo, testsupport.Photo(t, 4000, 3000))
	writeFile(t, big, testsupport.NoisePNG(t, 2600, 2600))
	if st, _ := os.Stat(big); st.Size() < 20e6 {
		t.Fatalf("the big image is only %d bytes", st.Size())
	}
	images := testsupport.Fixtures(t, "images")
	local := top1s(t, "--model", model, images, photo, big)

	endpoints := map[string]string{
		"serve":  startServeBinary(t, env...),
		"lambda": gatewayProxy(t, startRIE(t, env...).URL),
	}
	for name, url := range endpoints {
		t.Run(name, func(t *testing.T) {
			remote := top1s(t, "--endpoint", url, images, photo)
			for src, class := range remote {
				if local[src] != class {
					t.Errorf("%s: top-1 %d through %s, %d locally", src, class, name, local[src])
				}
			}
			if len(remote) != len(local)-1 {
				t.Errorf("%d results through %s, want %d", len(remote), name, len(local)-1)
			}
			resp, err := http.Post(url+"/predict", "application/json", strings.NewReader(`{"key": "input/secret.jpg"}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || !strings.Contains(string(b), `"forbidden_key"`) {
				t.Errorf("a key outside uploads/: %d %s", resp.StatusCode, b)
			}
			c, err := client.New(client.Options{Endpoint: url, TopK: 1})
			if err != nil {
				t.Fatal(err)
			}
			r, sent := classifyFile(t, c, photo)
			if sent.Bytes > 300<<10 || !sent.Resized || sent.Uploaded || r.Image.Width != 4000 {
				t.Errorf("12 MP photo: sent %+v, image %+v", sent, r.Image)
			}
			full, err := client.New(client.Options{Endpoint: url, TopK: 1, FullResolution: true})
			if err != nil {
				t.Fatal(err)
			}
			r, sent = classifyFile(t, full, big)
			if !sent.Uploaded || sent.Bytes < 20e6 || r.Predictions[0].ClassID != local[big] {
				t.Errorf("20 MB image: sent %+v, top-1 %+v, local %d", sent, r.Predictions, local[big])
			}
		})
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func classifyFile(t *testing.T, c *client.Client, p string) (api.Result, client.Sent) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	r, sent, err := c.Classify(context.Background(), data)
	if err != nil || len(r.Predictions) == 0 {
		t.Fatalf("%s: %v %+v", p, err, r)
	}
	return r, sent
}

// top1s runs classify --json with args and returns each source's top class.
func top1s(t *testing.T, args ...string) map[string]int {
	t.Helper()
	code, out, errOut := runCLI(t, nil, append([]string{"classify", "--json", "--top-k", "1"}, args...)...)
	if code != 0 {
		t.Fatalf("classify %v: exit %d\n%s", args, code, errOut)
	}
	m := map[string]int{}
	for _, r := range parseLines(t, out) {
		if len(r.Predictions) != 1 {
			t.Fatalf("result %+v", r)
		}
		m[r.Source.URI] = r.Predictions[0].ClassID
	}
	return m
}

// startServeBinary runs `mlserve serve` on a loopback port until the test
// ends and returns its URL once it is ready.
func startServeBinary(t *testing.T, env ...string) string {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(buildMlserve(t), "serve", "--addr", addr)
	cmd.Env = append(append(os.Environ(), "MLSERVE_CACHE_DIR="+t.TempDir()), env...)
	logs := &testsupport.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("serve output:\n%s", logs.String())
		}
	})
	url := "http://" + addr
	waitReady(t, url)
	return url
}

// gatewayProxy serves HTTP by sending each request to the function as an
// HTTP API (v2) event through the RIE's invoke endpoint, as API Gateway
// does, and returns its URL. The RIE is one execution environment that
// takes one invoke at a time (Lambda would start more), so invokes wait
// their turn here.
func gatewayProxy(t *testing.T, invokeURL string) string {
	t.Helper()
	var one sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		one.Lock()
		defer one.Unlock()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: r.URL.Path,
			RawQueryString: r.URL.RawQuery, Headers: map[string]string{},
			Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true}
		for k := range r.Header {
			ev.Headers[strings.ToLower(k)] = r.Header.Get(k)
		}
		ev.RequestContext.HTTP.Method = r.Method
		ev.RequestContext.HTTP.Path = r.URL.Path
		ev.RequestContext.DomainName = r.Host
		raw, _ := json.Marshal(ev)
		resp, err := http.Post(invokeURL, "application/json", bytes.NewReader(raw))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var out events.APIGatewayV2HTTPResponse
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &out); err != nil || out.StatusCode == 0 {
			http.Error(w, "function error: "+string(b), http.StatusBadGateway)
			return
		}
		data := []byte(out.Body)
		if out.IsBase64Encoded {
			data, _ = base64.StdEncoding.DecodeString(out.Body)
		}
		for k, v := range out.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(out.StatusCode)
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
