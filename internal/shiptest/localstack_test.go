package shiptest

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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

func goBuild(t *testing.T, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg) // -trimpath: shares the compile cache with TestStaticBinary
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// stack is a running scripts/local-stack.sh.
type stack struct {
	s3Port, awsPort, servePort, sqsPort, lambdaPort int
	dir                                             string
}

// startStack runs scripts/local-stack.sh, as `make local-stack` does, with
// the mini fixture model and env (NAME=value) on top, and waits until it
// says it is ready.
func startStack(t *testing.T, env ...string) *stack {
	t.Helper()
	versitygw := testsupport.Tool(t, "versitygw", "VERSITYGW")
	rie := testsupport.Tool(t, "aws-lambda-rie", "AWS_LAMBDA_RIE")
	goaws := testsupport.Tool(t, "cmd", "GOAWS") // go install github.com/Admiral-Piett/goaws/app/cmd@v0.4.5
	model := testsupport.Fixtures(t, "models", "mini-v1-opset11.onnx")
	bin := t.TempDir()
	goBuild(t, filepath.Join(bin, "mlserve"), "./cmd/mlserve")
	goBuild(t, filepath.Join(bin, "localaws"), "./internal/shiptest/cmd/localaws")

	p := freePorts(t, 6)
	st := &stack{s3Port: p[0], lambdaPort: p[1], awsPort: p[3], servePort: p[4], sqsPort: p[5], dir: t.TempDir()}
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "local-stack.sh"))
	cmd.Env = append(os.Environ(),
		"VERSITYGW="+versitygw, "AWS_LAMBDA_RIE="+rie,
		"MLSERVE="+filepath.Join(bin, "mlserve"), "LOCALAWS="+filepath.Join(bin, "localaws"),
		"MLSERVE_MODEL="+model, "LOCAL_STACK_DIR="+st.dir,
		"S3_PORT="+strconv.Itoa(p[0]), "LAMBDA_PORT="+strconv.Itoa(p[1]),
		"RUNTIME_API_PORT="+strconv.Itoa(p[2]), "AWS_PORT="+strconv.Itoa(p[3]),
		"SERVE_PORT="+strconv.Itoa(p[4]), "SQS_PORT="+strconv.Itoa(p[5]), "GOAWS="+goaws,
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		// The script stops its processes on SIGTERM; kill the group after.
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if t.Failed() {
			for _, name := range []string{"localaws", "versitygw", "goaws", "lambda", "serve"} {
				b, _ := os.ReadFile(filepath.Join(st.dir, "logs", name+".log"))
				t.Logf("--- %s.log (tail)\n%s", name, tailString(string(b), 3000))
			}
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "local stack ready") {
				ready <- true
			}
		}
		cmd.Wait()
		close(exited)
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("local-stack.sh exited before it was ready:\n%s", stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("local-stack.sh not ready after 2m:\n%s", stderr.String())
	}
	return st
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (st *stack) s3Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(fmt.Sprintf("http://127.0.0.1:%d", st.s3Port)),
		Credentials:  credentials.NewStaticCredentialsProvider("mlserve", "mlserve-local-secret", ""),
		UsePathStyle: true,
	})
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestLocalStack is the end-to-end run of the local stack: images uploaded
// under input/ become S3 events on the SQS queue, the poller hands one
// window of them to the Lambda function (under the RIE), which submits one
// Batch job for the window; the Batch stand-in runs `mlserve batch` with
// the job's command, and the results land under output/, equal to what
// `mlserve serve` answers for the same image.
// TestLocalStack: the deployed form, compact {"bucket","key"} bodies as
// the EventBridge rule writes them.
func TestLocalStack(t *testing.T) { testLocalStack(t, "compact") }

// TestLocalStackS3Bodies: S3 notifications on the queue, as a bucket
// notification writes them (form-encoded keys), still work.
func TestLocalStackS3Bodies(t *testing.T) { testLocalStack(t, "s3") }

func testLocalStack(t *testing.T, body string) {
	if testing.Short() {
		t.Skip("starts versitygw, goaws, the RIE and mlserve: skipped with -short")
	}
	st := startStack(t, "MLSERVE_DIRECT_MAX=0", "WINDOW=3s", "MESSAGE_BODY="+body)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	client := st.s3Client()

	// Name under input/ -> fixture. The last name needs each body form's
	// own decoding: form-encoded in an S3 notification, as is in a compact
	// body.
	images := map[string]string{
		"dog-768x576.jpg": "dog-768x576.jpg", "scene-640x427-q90.jpg": "scene-640x427-q90.jpg", "gray-320x480.png": "gray-320x480.png",
		`my "best" 100% photo+1 é.png`: "gray-320x480.png",
	}
	uploads := map[string][]byte{}
	for name, fixture := range images {
		b, err := os.ReadFile(testsupport.Fixtures(t, "images", fixture))
		if err != nil {
			t.Fatal(err)
		}
		uploads["input/"+name] = b
	}
	// Not an image: a failure record; the job exits 1, which the retry
	// strategy ends at once (EXIT) instead of retrying.
	uploads["input/broken.jpg"] = []byte("this is not a JPEG")
	// Outside input/: the notification filter drops it.
	uploads["other/ignored.jpg"] = uploads["input/dog-768x576.jpg"]
	for key, body := range uploads {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("mlserve"), Key: aws.String(key), Body: bytes.NewReader(body),
		}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}

	// One window, one job for the five uploads under input/.
	jobs := st.waitJobs(ctx, t, 1)
	if len(jobs) != 1 {
		t.Fatalf("SubmitJob calls: got %d, want 1 (one per window): %+v", len(jobs), jobs)
	}
	j := jobs[0]
	if !strings.HasSuffix(j.Queue, ":job-queue/mlserve-local") || !strings.HasSuffix(j.Definition, ":job-definition/mlserve-local:1") {
		t.Errorf("job %s: queue %s, definition %s", j.Name, j.Queue, j.Definition)
	}
	if len(j.Command) != 7 || j.Command[0] != "batch" || j.Command[1] != "--manifest" || !strings.HasPrefix(j.Command[2], "s3://mlserve/manifests/") ||
		j.Command[3] != "--input" || j.Command[4] != "s3://mlserve/input/" || j.Command[5] != "--output" || j.Command[6] != "s3://mlserve/output/" {
		t.Fatalf("job %s command: %q", j.Name, j.Command)
	}
	// The manifest names the five keys under input/, once each.
	uris := st.manifest(ctx, t, j.Command[2])
	slices.Sort(uris)
	var want []string
	for key := range uploads {
		if strings.HasPrefix(key, "input/") {
			want = append(want, "s3://mlserve/"+key)
		}
	}
	slices.Sort(want)
	if !slices.Equal(uris, want) {
		t.Errorf("manifest %q, want %q", uris, want)
	}
	// broken.jpg fails the job (exit 1, EXIT: no retry) after its record.
	if j.Status != "FAILED" || len(j.Runs) != 1 || j.Runs[0].ExitCode != 1 {
		t.Errorf("job: status %s, runs %+v; want FAILED after one run with exit code 1 (EXIT, no retry)", j.Status, j.Runs)
	}
	js := st.jobSummary(ctx, t, j.ID)
	if js.Images != 5 || js.Succeeded != 4 || js.Failed != 1 || js.Shards != 1 {
		t.Errorf("job summary %+v", js)
	}

	for name, fixture := range images {
		t.Run(name, func(t *testing.T) {
			got := st.result(ctx, t, "output/"+name+".json")
			if got.Error != nil || len(got.Predictions) != 5 || got.Predictions[0].Label == "" {
				t.Fatalf("batch result: %+v", got)
			}
			if got.Source == nil || got.Source.URI != "s3://mlserve/input/"+name {
				t.Errorf("batch result source: %+v", got.Source)
			}
			// The reference (torch, fixtures README) agrees on the top class.
			if ref := referenceTop1(t, fixture); got.Predictions[0].ClassID != ref {
				t.Errorf("top-1 class %d, reference %d", got.Predictions[0].ClassID, ref)
			}
			// The same image through the HTTP server: the same classes.
			want := predict(t, st.servePort, uploads["input/"+name])
			if !samePredictions(got.Predictions, want.Predictions) {
				t.Errorf("batch and serve disagree:\nbatch %+v\nserve %+v", got.Predictions, want.Predictions)
			}
		})
	}
}

func predict(t *testing.T, port int, img []byte) api.Result {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/predict", port), "application/octet-stream", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r api.Result
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &r) != nil {
		t.Fatalf("POST /predict: %s\n%s", resp.Status, body)
	}
	return r
}

// samePredictions compares class ids exactly and probabilities to 1e-5
// (both modes print 6 decimals of the same float32 engine output).
func samePredictions(a, b []infer.Prediction) bool {
	return slices.EqualFunc(a, b, func(x, y infer.Prediction) bool {
		d := x.Probability - y.Probability
		return x.ClassID == y.ClassID && x.Label == y.Label && d < 1e-5 && d > -1e-5
	})
}

// referenceTop1 returns the top class torch computes for image with the
// mini-v1 model (meta.json "e2e").
func referenceTop1(t *testing.T, image string) int {
	t.Helper()
	c, _ := testsupport.Top1(t, "mini-v1", image)
	return c
}
