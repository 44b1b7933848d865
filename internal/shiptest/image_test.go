package shiptest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/models"
)

// The images make image-test builds. The fixture model stands in for the
// default one so that the build needs no internet and every mode's answer
// can be checked against torch's (meta.json "e2e", mini-v1).
const (
	imageRef       = "localhost/mlserve:imagetest"
	lambdaImageRef = "localhost/mlserve:imagetest-lambda"
	sizeImageRef   = "localhost/mlserve:imagetest-resnet50"
	maxImageBytes  = 150e6 // issue 15: the runtime image with ResNet-50 stays under 150 MB
	testImage      = "dog-768x576.jpg"
)

// modelServer serves the fixture models on 127.0.0.1, where the build's
// RUN steps (chroot isolation: the host's network) reach it.
func modelServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(testsupport.Fixtures(t, "models"))))
	t.Cleanup(srv.Close)
	return srv
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum(b)
}

// TestImage builds the Dockerfile unchanged with buildah from the stand-in
// bases (scripts/image/bases.sh), then runs every mode inside the image as
// its non-root user with a read-only root file system, and each
// docker-compose.yml service the way compose would.
func TestImage(t *testing.T) {
	needImageTest(t)
	srv := modelServer(t)
	mini := testsupport.Fixtures(t, "models", "mini-v1-opset11.onnx")
	args := map[string]string{
		"MODEL_URL":    srv.URL + "/mini-v1-opset11.onnx",
		"MODEL_SHA256": fileSum(t, mini),
		"VERSION":      "v0.0.0-imagetest",
	}
	for ref, target := range map[string]string{imageRef: "runtime", lambdaImageRef: "lambda-rie"} {
		if out, err := bud(t, ref, target, args); err != nil {
			t.Fatalf("build %s: %v", target, err)
		} else if !strings.Contains(out, "fetch-model.sh: verified") && !strings.Contains(out, "Using cache") {
			t.Errorf("build %s: the model stage neither verified a download nor came from the cache:\n%s", target, tailString(out, 2000))
		}
	}
	for _, ref := range []string{imageRef, lambdaImageRef} {
		t.Logf("%s: %.1f MB with the %d-byte fixture model", ref, imageSize(t, ref)/1e6, fileSize(t, mini))
	}

	t.Run("checksum mismatch", func(t *testing.T) { testChecksumMismatch(t, srv) })
	t.Run("size", func(t *testing.T) { testImageSize(t, srv) })

	img := testsupport.Fixtures(t, "images", testImage)
	want := classifyInImage(t)
	if got, ref := want.Predictions[0].ClassID, referenceTop1(t, testImage); got != ref {
		t.Errorf("classify in the image: top-1 %d, torch says %d", got, ref)
	}
	t.Run("batch folder", func(t *testing.T) { testBatchFolder(t, want) })
	t.Run("read-only root", testReadOnlyRoot)

	p := loadCompose(t)
	t.Run("compose serve", func(t *testing.T) { testComposeServe(t, p.Services["serve"], img, want) })
	t.Run("compose lambda", func(t *testing.T) { testComposeLambda(t, p.Services["lambda"], img, want) })
	t.Run("compose batch", func(t *testing.T) { testComposeBatch(t, p, want) })
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// testChecksumMismatch: a model whose sha256 is not the one asked for
// fails the build in the model stage and tags nothing.
func testChecksumMismatch(t *testing.T, srv *httptest.Server) {
	const ref = "localhost/mlserve:imagetest-mismatch"
	other := fileSum(t, testsupport.Fixtures(t, "models", "mini-v2-opset11.onnx"))
	out, err := bud(t, ref, "model", map[string]string{
		"MODEL_URL":    srv.URL + "/mini-v1-opset11.onnx",
		"MODEL_SHA256": other,
	})
	if err == nil {
		t.Fatalf("the build succeeded with the wrong sha256:\n%s", tailString(out, 2000))
	}
	if !strings.Contains(out, "sha256 mismatch, want "+other) {
		t.Errorf("the build failed, but not on the checksum:\n%s", tailString(out, 2000))
	}
	if _, err := run(context.Background(), "buildah", "inspect", "--type", "image", ref); err == nil {
		t.Errorf("%s exists after a failed build", ref)
	}
}

// testImageSize measures the runtime image with a ResNet-50 in it: the
// fixture export, 89,510 bytes smaller than the model zoo's file that the
// default build downloads; the difference is added.
func testImageSize(t *testing.T, srv *httptest.Server) {
	resnet := testsupport.Fixtures(t, "models", "resnet50-opset11.onnx")
	_, err := bud(t, sizeImageRef, "runtime", map[string]string{
		"MODEL_URL":    srv.URL + "/resnet50-opset11.onnx",
		"MODEL_SHA256": fileSum(t, resnet),
		"VERSION":      "v0.0.0-imagetest",
	})
	if err != nil {
		t.Fatal(err)
	}
	measured := imageSize(t, sizeImageRef)
	size := measured + float64(models.Default().Size-fileSize(t, resnet))
	fmt.Printf("image size: %.1f MB (runtime image with resnet50-v1-12; measured %.1f MB with the fixture ResNet-50)\n", size/1e6, measured/1e6)
	if size > maxImageBytes {
		t.Errorf("runtime image %.1f MB, over the %.0f MB limit", size/1e6, maxImageBytes/1e6)
	}
	run(context.Background(), "buildah", "rmi", sizeImageRef)
}

// classifyInImage runs `mlserve classify --json` in the image on the
// fixture photograph.
func classifyInImage(t *testing.T) infer.Result {
	t.Helper()
	c := newContainer(t, imageRef)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.command(ctx, runSpec{binds: []string{testsupport.Fixtures(t, "images") + ":/data:ro"}},
		c.composeArgv(nil, []string{"classify", "--json", "/data/" + testImage})...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("classify in the image: %v\n%s", err, tailString(stderr.String(), 3000))
	}
	var r infer.Result
	if err := json.Unmarshal(out, &r); err != nil || len(r.Predictions) == 0 {
		t.Fatalf("classify in the image printed %q (%v)", out, err)
	}
	t.Logf("classify: %s", strings.TrimSpace(string(out)))
	return r
}

// imageInputs copies some fixture images into a new folder.
func imageInputs(t *testing.T, dir string) []string {
	t.Helper()
	names := []string{testImage, "gray-320x480.png", "palette-256x256.gif"}
	for _, n := range names {
		b, err := os.ReadFile(testsupport.Fixtures(t, "images", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// outputDir is a folder the image's user (nonroot, 65532) may write.
func outputDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chown(dir, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkResults reads <dir>/<name>.json for every input and compares the
// fixture photograph's predictions with want; the files must belong to
// the image's non-root user.
func checkResults(t *testing.T, dir string, names []string, want infer.Result) {
	t.Helper()
	for _, n := range names {
		path := filepath.Join(dir, n+".json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("no result for %s: %v", n, err)
			continue
		}
		var r infer.Result
		if err := json.Unmarshal(b, &r); err != nil || r.Error != nil || len(r.Predictions) == 0 {
			t.Errorf("%s: %s", path, b)
			continue
		}
		if n == testImage && !samePredictions(r.Predictions, want.Predictions) {
			t.Errorf("batch and classify disagree on %s:\nbatch    %+v\nclassify %+v", n, r.Predictions, want.Predictions)
		}
		checkOwner(t, path, 65532)
	}
}

// checkOwner fails unless uid owns path.
func checkOwner(t *testing.T, path string, uid uint32) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uid {
		t.Errorf("%s: owner %d, want %d (the image's user)", path, st.Uid, uid)
	}
}

// testBatchFolder: `mlserve batch` classifies one folder into another.
func testBatchFolder(t *testing.T, want infer.Result) {
	in, out := t.TempDir(), outputDir(t)
	names := imageInputs(t, in)
	c := newContainer(t, imageRef)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.command(ctx, runSpec{binds: []string{in + ":/data:ro", out + ":/out"}},
		c.composeArgv(nil, []string{"batch", "--input", "/data", "--output", "/out", "--job", "imagetest"})...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("batch in the image: %v\n%s", err, tailString(string(b), 3000))
	}
	checkResults(t, out, names, want)
	// The job's records live under _jobs/<job>/, the job summary last.
	checkOwner(t, filepath.Join(out, filepath.FromSlash(batch.JobSummaryKey("imagetest"))), 65532)
}

// testReadOnlyRoot: even root cannot write the image's file system, while
// /tmp is writable (the model cache, batch spool files).
func testReadOnlyRoot(t *testing.T) {
	in := t.TempDir()
	imageInputs(t, in)
	c := newContainer(t, imageRef)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := c.command(ctx, runSpec{user: "0:0", binds: []string{in + ":/data:ro"}},
		c.composeArgv(nil, []string{"batch", "--input", "/data", "--output", "/models/out"})...)
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "read-only file system") {
		t.Errorf("batch writing under /models as root: %v, want a read-only file system error:\n%s", err, tailString(string(b), 2000))
	}
	cmd = c.command(ctx, runSpec{binds: []string{in + ":/data:ro"}},
		c.composeArgv(nil, []string{"batch", "--input", "/data", "--output", "/tmp/out"})...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("batch into /tmp: %v\n%s", err, tailString(string(b), 2000))
	}
}

// apiGatewayEvent is an HTTP API (v2) POST /predict with img as its body.
func apiGatewayEvent(t *testing.T, img []byte) []byte {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version:         "2.0",
		RouteKey:        "POST /predict",
		RawPath:         "/predict",
		Headers:         map[string]string{"content-type": "image/jpeg"},
		Body:            base64.StdEncoding.EncodeToString(img),
		IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/predict"},
		},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
