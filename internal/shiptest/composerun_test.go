package shiptest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// composeService is a docker-compose.yml service ready to run in the built
// image the way compose would: the image of its build target, its
// entrypoint and command over the image's, its environment over the
// image's ENV, the image's USER.
type composeService struct {
	c     *container
	argv  []string
	env   map[string]string
	ports []uint32 // container ports it publishes
}

func newComposeService(t *testing.T, s types.ServiceConfig, hosts ...string) composeService {
	t.Helper()
	if s.Build == nil {
		t.Fatalf("service %s: no build section", s.Name)
	}
	ref, ok := map[string]string{"runtime": imageRef, "lambda-rie": lambdaImageRef}[s.Build.Target]
	if !ok {
		t.Fatalf("service %s: build target %q is not one make image-test builds", s.Name, s.Build.Target)
	}
	cs := composeService{c: newContainer(t, ref, hosts...), env: map[string]string{}}
	cs.argv = cs.c.composeArgv(s.Entrypoint, s.Command)
	for k, v := range s.Environment {
		if v != nil {
			cs.env[k] = *v
		}
	}
	for _, p := range s.Ports { // bound to 127.0.0.1: TestComposeServices
		cs.ports = append(cs.ports, p.Target)
	}
	return cs
}

// start runs the service in its own network namespace.
func (cs composeService) start(t *testing.T, netns string) *started {
	t.Helper()
	return start(t, cs.c.command(context.Background(), runSpec{netns: netns, env: cs.env}, cs.argv...))
}

func (cs composeService) port(t *testing.T) uint32 {
	t.Helper()
	if len(cs.ports) != 1 {
		t.Fatalf("want one published port, have %v", cs.ports)
	}
	return cs.ports[0]
}

// stop ends the service with SIGTERM and reports how it went.
func stop(t *testing.T, netns string, p *started) {
	t.Helper()
	stopNetns(netns, 30*time.Second)
	<-p.exited
	t.Logf("exit: %v; last output:\n%s", p.err, tailString(p.out.String(), 1500))
}

// testComposeServe: the serve service answers /readyz and POST /predict
// on the container port it publishes, and exits 0 on SIGTERM (what
// `docker compose stop` sends to the container's process).
func testComposeServe(t *testing.T, s types.ServiceConfig, img string, want infer.Result) {
	cs := newComposeService(t, s)
	ns := newNetns(t)
	p := cs.start(t, ns)
	defer func() {
		if n := signalNamed(ns, "mlserve", syscall.SIGTERM); n != 1 {
			t.Errorf("%d mlserve processes in the service's namespace, want 1", n)
		}
		select {
		case <-p.exited:
			if p.err != nil {
				t.Errorf("serve after SIGTERM: %v\n%s", p.err, tailString(p.out.String(), 1500))
			}
		case <-time.After(40 * time.Second):
			t.Errorf("serve still running 40s after SIGTERM")
		}
		stop(t, ns, p)
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", cs.port(t))
	waitHTTP(t, ns, base+"/readyz", 2*time.Minute, p.exited)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body, status, err := nsCurl(ctx, ns, "--data-binary", "@"+img, "-H", "Content-Type: image/jpeg", base+"/predict")
	if err != nil || status != 200 {
		t.Fatalf("POST /predict: %d %v: %s", status, err, body)
	}
	var r infer.Result
	if err := json.Unmarshal(body, &r); err != nil || !samePredictions(r.Predictions, want.Predictions) {
		t.Errorf("POST /predict answered %s (%v); classify said %+v", body, err, want.Predictions)
	}
}

// testComposeLambda: the lambda service (mlserve behind the Runtime
// Interface Emulator) answers an API Gateway HTTP API event.
func testComposeLambda(t *testing.T, s types.ServiceConfig, img string, want infer.Result) {
	cs := newComposeService(t, s)
	ns := newNetns(t)
	p := cs.start(t, ns)
	defer stop(t, ns, p)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, apiGatewayEvent(t, b), 0o644); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", cs.port(t))
	var body []byte
	var status int
	for deadline := time.Now().Add(2 * time.Minute); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		body, status, err = nsCurl(ctx, ns, "--data-binary", "@"+event, url)
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-p.exited:
			t.Fatalf("the emulator exited: %v", p.err)
		case <-time.After(300 * time.Millisecond):
		}
	}
	if err != nil || status != 200 {
		t.Fatalf("invoke: %d %v: %s", status, err, body)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(body, &resp); err != nil || resp.StatusCode != 200 {
		t.Fatalf("invoke answered %s (%v)", body, err)
	}
	var r infer.Result
	if err := json.Unmarshal([]byte(resp.Body), &r); err != nil || !samePredictions(r.Predictions, want.Predictions) {
		t.Errorf("the Lambda answered %s (%v); classify said %+v", resp.Body, err, want.Predictions)
	}
}

// testComposeBatch: the one-shot batch service classifies s3://mlserve/input/
// on the s3 service (versitygw with the compose file's command, its /data
// a temporary folder), reached by the host name s3 as on compose's network.
func testComposeBatch(t *testing.T, p *types.Project, want infer.Result) {
	s3svc, batch := p.Services["s3"], p.Services["batch"]
	data := t.TempDir()
	in := filepath.Join(data, "mlserve", "input")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	names := imageInputs(t, in)
	cs := newComposeService(t, batch, "s3:127.0.0.1")
	ns := newNetns(t)

	gw := testsupport.Tool(t, "versitygw", "VERSITYGW")
	var gwArgs []string
	for _, a := range s3svc.Command {
		gwArgs = append(gwArgs, strings.Replace(a, "/data", data, 1))
	}
	s3 := start(t, nsCommand(context.Background(), ns, gw, gwArgs...))
	var s3port uint32 = 7070
	if len(s3svc.Ports) == 1 {
		s3port = s3svc.Ports[0].Target
	}
	waitS3(t, ns, s3port, s3.exited)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := cs.c.command(ctx, runSpec{netns: ns, env: cs.env}, cs.argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s\nversitygw:\n%s", strings.Join(cs.argv, " "), err, tailString(string(out), 3000), tailString(s3.out.String(), 1000))
	}
	results := filepath.Join(data, "mlserve", "output")
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join(results, n+".json")); err == nil {
			var r infer.Result
			if json.Unmarshal(b, &r) != nil || len(r.Predictions) == 0 {
				t.Errorf("%s.json: %s", n, b)
			} else if n == testImage && !samePredictions(r.Predictions, want.Predictions) {
				t.Errorf("batch over S3 and classify disagree:\n%+v\n%+v", r.Predictions, want.Predictions)
			}
		} else {
			t.Errorf("no result for s3://mlserve/input/%s: %v", n, err)
		}
	}
}

// waitS3 waits until something answers HTTP on port inside netns.
func waitS3(t *testing.T, netns string, port uint32, exited <-chan struct{}) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, status, err := nsCurl(ctx, netns, fmt.Sprintf("http://127.0.0.1:%d/", port))
		cancel()
		if err == nil && status > 0 {
			return
		}
		select {
		case <-exited:
			t.Fatal("versitygw exited")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw: no answer on :%d: %v", port, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
