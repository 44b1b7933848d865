package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// serveFixtures returns ../shared/fixtures from the repository root.
func serveFixtures(t testing.TB) string { return testsupport.Fixtures(t) }

func TestServeFlags(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(o serveOptions) bool
		exit  int
	}{
		{"defaults", nil, nil, func(o serveOptions) bool {
			return o.Addr == ":8080" && o.MaxBatch == 8 && o.BatchWait == 100*time.Millisecond && o.Queue == 64 &&
				o.MaxBodyBytes == 10<<20 && o.MaxPixels == 50_000_000 && o.Timeout == 30*time.Second && o.TopK == 5 &&
				o.ShutdownGrace == 25*time.Second && o.ShutdownDelay == 3*time.Second && o.LogFormat == "text" && o.LogLevel == "info"
		}, 0},
		{"env", map[string]string{
			"MLSERVE_ADDR": "127.0.0.1:9", "MLSERVE_MAX_BATCH": "4", "MLSERVE_BATCH_WAIT": "2ms", "MLSERVE_QUEUE": "16",
			"MLSERVE_MAX_BODY_BYTES": "1000", "MLSERVE_MAX_PIXELS": "99", "MLSERVE_TIMEOUT": "3s", "MLSERVE_TOP_K": "2",
			"MLSERVE_SHUTDOWN_GRACE": "7s", "MLSERVE_SHUTDOWN_DELAY": "1s", "MLSERVE_LOG_FORMAT": "json", "MLSERVE_LOG_LEVEL": "debug",
		}, nil, func(o serveOptions) bool {
			return o.Addr == "127.0.0.1:9" && o.MaxBatch == 4 && o.BatchWait == 2*time.Millisecond && o.Queue == 16 &&
				o.MaxBodyBytes == 1000 && o.MaxPixels == 99 && o.Timeout == 3*time.Second && o.TopK == 2 &&
				o.ShutdownGrace == 7*time.Second && o.ShutdownDelay == time.Second && o.LogFormat == "json" && o.LogLevel == "debug"
		}, 0},
		{"flags override env", map[string]string{"MLSERVE_ADDR": ":1", "MLSERVE_MAX_BATCH": "4"},
			[]string{"--addr", ":2", "--max-batch", "16", "--queue", "32", "--model", "m.onnx", "-k", "3"}, func(o serveOptions) bool {
				return o.Addr == ":2" && o.MaxBatch == 16 && o.Queue == 32 && o.Model == "m.onnx" && o.TopK == 3
			}, 0},
		{"bad env", map[string]string{"MLSERVE_MAX_BATCH": "lots"}, nil, nil, ExitUsage},
		{"bad duration env", map[string]string{"MLSERVE_TIMEOUT": "soon"}, nil, nil, ExitUsage},
		{"zero batch", nil, []string{"--max-batch", "0"}, nil, ExitUsage},
		{"queue below batch", nil, []string{"--max-batch", "8", "--queue", "4"}, nil, ExitUsage},
		{"top-k", nil, []string{"--top-k", "1001"}, nil, ExitUsage},
		{"timeout", nil, []string{"--timeout", "0s"}, nil, ExitUsage},
		{"log format", nil, []string{"--log-format", "xml"}, nil, ExitUsage},
		{"log level", nil, []string{"--log-level", "loud"}, nil, ExitUsage},
		{"argument", nil, []string{"extra"}, nil, ExitUsage},
		{"unknown flag", nil, []string{"--nope"}, nil, ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []string{"MLSERVE_ADDR", "MLSERVE_MAX_BATCH", "MLSERVE_BATCH_WAIT", "MLSERVE_QUEUE", "MLSERVE_MAX_BODY_BYTES",
				"MLSERVE_MAX_PIXELS", "MLSERVE_TIMEOUT", "MLSERVE_TOP_K", "MLSERVE_SHUTDOWN_GRACE", "MLSERVE_SHUTDOWN_DELAY",
				"MLSERVE_LOG_FORMAT", "MLSERVE_LOG_LEVEL"} {
				t.Setenv(v, tt.env[v])
			}
			var got *serveOptions
			var stderr bytes.Buffer
			stdio := IO{In: strings.NewReader(""), Out: io.Discard, Err: &stderr}
			root := NewRootCmd(stdio)
			for _, c := range root.Commands() {
				if c.Name() == "serve" {
					root.RemoveCommand(c)
				}
			}
			serve := newServeCmdWith(stdio, func(_ context.Context, o serveOptions) error { got = &o; return nil })
			root.AddCommand(serve)
			markArgErrors(root)
			root.SetArgs(append([]string{"serve"}, tt.args...))
			err := root.ExecuteContext(context.Background())
			code := ExitOK
			if err != nil {
				code = exitCode(err)
			}
			if code != tt.exit {
				t.Fatalf("exit %d, want %d (%v)", code, tt.exit, err)
			}
			if tt.check != nil && (got == nil || !tt.check(*got)) {
				t.Errorf("options %+v", got)
			}
		})
	}
}

// exitCode maps err as Run does.
func exitCode(err error) int { return exitCodeOf(err) }

// TestRunServe serves the mini model in-process through runServe and stops
// it by cancelling the context, as SIGTERM does.
func TestRunServe(t *testing.T) {
	model := filepath.Join(serveFixtures(t), "models", "mini-v1-opset11.onnx")
	addrc := make(chan net.Addr, 1)
	var logs testsupport.SyncBuffer
	opts := serveOptions{
		IO:           IO{In: strings.NewReader(""), Out: io.Discard, Err: &logs},
		modelOptions: modelOptions{Model: model},
		Addr:         "127.0.0.1:0", TopK: 5, MaxBatch: 8, BatchWait: 5 * time.Millisecond, Queue: 64,
		MaxBodyBytes: 10 << 20, Timeout: 10 * time.Second, ShutdownGrace: 5 * time.Second,
		LogFormat: "json", LogLevel: "info",
		ReadHeaderTimeout: time.Second, ReadTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second,
		listening: func(a net.Addr) { addrc <- a },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, opts) }()
	url := "http://" + (<-addrc).String()
	waitReady(t, url)
	img, err := os.ReadFile(filepath.Join(serveFixtures(t), "images", "dog-768x576.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url+"/predict?top_k=2", "image/jpeg", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Model       string
		Predictions []struct{ Label string }
	}
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(res.Predictions) != 2 || res.Predictions[0].Label == "" || res.Model != "mini-v1-opset11" {
		t.Fatalf("predict: %d %+v", resp.StatusCode, res)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runServe: %v", err)
	}
	for _, msg := range []string{`"msg":"serve config"`, `"msg":"listening"`, `"msg":"model loaded"`, `"msg":"ready"`, `"msg":"request"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("log lacks %s:\n%s", msg, logs.String())
		}
	}
}

func TestRunServeBadModel(t *testing.T) {
	opts := serveOptions{
		IO:           IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard},
		modelOptions: modelOptions{Model: filepath.Join(t.TempDir(), "missing.onnx")},
		Addr:         "127.0.0.1:0", TopK: 5, MaxBatch: 8, Queue: 64, MaxBodyBytes: 1 << 20, Timeout: time.Second,
		LogFormat: "text", LogLevel: "info", ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, IdleTimeout: time.Second,
	}
	if err := runServe(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "missing.onnx") {
		t.Fatalf("runServe: %v", err)
	}
}

func waitReady(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("not ready within 60s")
}

// TestServeBinarySIGTERM builds mlserve, serves the mini model, starts a
// slow upload, sends SIGTERM: /readyz turns 503, the upload completes with
// a result, and the process exits 0.
func TestServeBinarySIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: -short")
	}
	bin := filepath.Join(t.TempDir(), "mlserve")
	build := exec.Command("go", "build", "-o", bin, "github.com/mlserve/mlserve/cmd/mlserve")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	model := filepath.Join(serveFixtures(t), "models", "mini-v1-opset11.onnx")
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--model", model, "--log-format", "json", "--shutdown-delay", "500ms", "--shutdown-grace", "10s")
	cmd.Env = append(os.Environ(), "MLSERVE_LOG_LEVEL=info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // already exited when the test passes

	addrc := make(chan string, 1)
	var logs testsupport.SyncBuffer
	scanned := make(chan struct{}) // closed at the child's EOF on stderr
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(&logs, sc.Text())
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrc <- line.Addr
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatalf("no listening line:\n%s", logs.String())
	}
	url := "http://" + addr
	waitReady(t, url)

	img, err := os.ReadFile(filepath.Join(serveFixtures(t), "images", "dog-768x576.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	// A request in flight: headers and half the body now, the rest after SIGTERM.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /predict HTTP/1.1\r\nHost: %s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", addr, len(img))
	conn.Write(img[:len(img)/2])
	time.Sleep(100 * time.Millisecond)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Draining: readiness is 503 during --shutdown-delay.
	deadline := time.Now().Add(400 * time.Millisecond)
	sawDraining := false
	for time.Now().Before(deadline) && !sawDraining {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			sawDraining = resp.StatusCode == 503
		}
	}
	if !sawDraining {
		t.Error("/readyz never answered 503 while draining")
	}
	time.Sleep(600 * time.Millisecond) // past the delay: the listener is closed
	conn.Write(img[len(img)/2:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v\n%s", err, logs.String())
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"predictions":[{`)) {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, body)
	}
	waitc := make(chan error, 1)
	// Wait closes the pipe: read every log line first (os/exec's rule).
	go func() { <-scanned; waitc <- cmd.Wait() }()
	select {
	case err := <-waitc:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit after SIGTERM\n%s", logs.String())
	}
	for _, msg := range []string{`"msg":"signal received, draining"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("log lacks %s", msg)
		}
	}
}
