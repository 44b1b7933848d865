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
	"github.com/mlserve/mlserve/internal/shiptest/localaws"
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
	s3Port, awsPort, servePort int
	dir                        string
}

// startStack runs scripts/local-stack.sh, as `make local-stack` does, with
// the mini fixture model, and waits until it says it is ready.
func startStack(t *testing.T) *stack {
	t.Helper()
	versitygw := testsupport.Tool(t, "versitygw", "VERSITYGW")
	rie := testsupport.Tool(t, "aws-lambda-rie", "AWS_LAMBDA_RIE")
	model := testsupport.Fixtures(t, "models", "mini-v1-opset11.onnx")
	bin := t.TempDir()
	goBuild(t, filepath.Join(bin, "mlserve"), "./cmd/mlserve")
	goBuild(t, filepath.Join(bin, "localaws"), "./internal/shiptest/cmd/localaws")

	p := freePorts(t, 5)
	st := &stack{s3Port: p[0], awsPort: p[3], servePort: p[4], dir: t.TempDir()}
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "local-stack.sh"))
	cmd.Env = append(os.Environ(),
		"VERSITYGW="+versitygw, "AWS_LAMBDA_RIE="+rie,
		"MLSERVE="+filepath.Join(bin, "mlserve"), "LOCALAWS="+filepath.Join(bin, "localaws"),
		"MLSERVE_MODEL="+model, "LOCAL_STACK_DIR="+st.dir,
		"S3_PORT="+strconv.Itoa(p[0]), "LAMBDA_PORT="+strconv.Itoa(p[1]),
		"RUNTIME_API_PORT="+strconv.Itoa(p[2]), "AWS_PORT="+strconv.Itoa(p[3]),
		"SERVE_PORT="+strconv.Itoa(p[4]),
	)
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
			for _, name := range []string{"localaws", "versitygw", "lambda", "serve"} {
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
// under input/ become S3 events, the Lambda function (under the RIE)
// submits one Batch job per event, the Batch stand-in runs `mlserve batch`
// with the job's command, and the results land under output/, equal to
// what `mlserve serve` answers for the same image.
func TestLocalStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw, the RIE and mlserve: skipped with -short")
	}
	st := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	client := st.s3Client()

	images := []string{"dog-768x576.jpg", "scene-640x427-q90.jpg", "gray-320x480.png"}
	uploads := map[string][]byte{}
	for _, name := range images {
		b, err := os.ReadFile(testsupport.Fixtures(t, "images", name))
		if err != nil {
			t.Fatal(err)
		}
		uploads["input/"+name] = b
	}
	// Not an image: its job fails with exit code 1, which the retry
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

	// Wait until every event is relayed and every job has stopped.
	base := fmt.Sprintf("http://127.0.0.1:%d", st.awsPort)
	var jobs struct{ Jobs []localaws.Job }
	for {
		var inv struct {
			Invocations []localaws.Invocation
			Pending     int
		}
		getJSON(t, base+"/local/invocations", &inv)
		getJSON(t, base+"/local/jobs", &jobs)
		stopped := 0
		for _, j := range jobs.Jobs {
			if j.Status == "SUCCEEDED" || j.Status == "FAILED" {
				stopped++
			}
		}
		if len(inv.Invocations) >= 4 && inv.Pending == 0 && stopped == len(jobs.Jobs) && len(jobs.Jobs) >= 4 {
			for _, i := range inv.Invocations {
				if i.Status != http.StatusOK || i.Err != "" {
					t.Errorf("invocation for %s: status %d, error %s, response %s", i.Key, i.Status, i.Err, i.Response)
				}
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("timed out: %d invocations (%d pending), jobs %+v", len(inv.Invocations), inv.Pending, jobs.Jobs)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// One job per upload under input/, none for other/, manifests/ or output/.
	if len(jobs.Jobs) != 4 {
		t.Fatalf("SubmitJob calls: got %d, want 4 (one per upload under input/): %+v", len(jobs.Jobs), jobs.Jobs)
	}
	byImage := map[string]localaws.Job{}
	for _, j := range jobs.Jobs {
		if !strings.HasSuffix(j.Queue, ":job-queue/mlserve-local") || !strings.HasSuffix(j.Definition, ":job-definition/mlserve-local:1") {
			t.Errorf("job %s: queue %s, definition %s", j.Name, j.Queue, j.Definition)
		}
		if len(j.Command) != 5 || j.Command[0] != "batch" || j.Command[1] != "--manifest" || j.Command[3] != "--output" ||
			!strings.HasPrefix(j.Command[2], "s3://mlserve/manifests/") || j.Command[4] != "s3://mlserve/output/" {
			t.Errorf("job %s command: %q", j.Name, j.Command)
			continue
		}
		// The manifest names the uploaded key.
		man, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mlserve"), Key: aws.String(strings.TrimPrefix(j.Command[2], "s3://mlserve/"))})
		if err != nil {
			t.Errorf("manifest %s: %v", j.Command[2], err)
			continue
		}
		var uri string
		err = json.NewDecoder(man.Body).Decode(&uri)
		man.Body.Close()
		if err != nil || !strings.HasPrefix(uri, "s3://mlserve/input/") {
			t.Errorf("manifest %s: first entry %q, %v", j.Command[2], uri, err)
			continue
		}
		byImage[strings.TrimPrefix(uri, "s3://mlserve/input/")] = j
	}

	broken, ok := byImage["broken.jpg"]
	switch {
	case !ok:
		t.Error("no job for input/broken.jpg")
	case broken.Status != "FAILED" || len(broken.Runs) != 1 || broken.Runs[0].ExitCode != 1:
		t.Errorf("broken.jpg job: status %s, runs %+v; want FAILED after one run with exit code 1 (EXIT, no retry)", broken.Status, broken.Runs)
	}

	for _, name := range images {
		t.Run(name, func(t *testing.T) {
			j, ok := byImage[name]
			if !ok {
				t.Fatalf("no job for input/%s", name)
			}
			if j.Status != "SUCCEEDED" || len(j.Runs) != 1 || j.Runs[0].ExitCode != 0 {
				t.Fatalf("job %s: status %s, runs %+v", j.Name, j.Status, j.Runs)
			}
			obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mlserve"), Key: aws.String("output/" + name + ".json")})
			if err != nil {
				t.Fatalf("output/%s.json: %v", name, err)
			}
			var got api.Result
			err = json.NewDecoder(obj.Body).Decode(&got)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got.Error != nil || len(got.Predictions) != 5 || got.Predictions[0].Label == "" {
				t.Fatalf("batch result: %+v", got)
			}
			if got.Source == nil || got.Source.URI != "s3://mlserve/input/"+name {
				t.Errorf("batch result source: %+v", got.Source)
			}
			// The reference (torch, fixtures README) agrees on the top class.
			if ref := referenceTop1(t, name); got.Predictions[0].ClassID != ref {
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
