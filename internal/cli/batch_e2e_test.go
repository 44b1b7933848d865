package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/s3io"
	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/internal/testsupport/s3server"
)

// TestBatchEndToEnd runs the mlserve binary as separate processes over
// local folders and over a real S3 server (versitygw), with the same checks.
func TestBatchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end batch runs take about a minute")
	}
	e := &e2e{
		bin:   buildMlserve(t),
		model: testsupport.Fixtures(t, "models", "mini-v1-opset11.onnx"),
		cache: t.TempDir(),
	}
	e.inputs = e2eInputs(t)
	t.Run("local", func(t *testing.T) {
		dir := t.TempDir()
		e.run(t, filepath.Join(dir, "input")+"/", func(name string) string { return filepath.Join(dir, name) + "/" })
	})
	t.Run("s3", func(t *testing.T) {
		srv := s3server.Start(t)
		srv.Setenv(t) // for this process; the children inherit it
		bucket := srv.NewBucket(t)
		e.run(t, "s3://"+bucket+"/input/", func(name string) string { return "s3://" + bucket + "/" + name + "/" })
	})
}

type e2e struct {
	bin, model, cache string
	inputs            map[string][]byte
}

// wantFailed are the inputs that must get a failure record.
var wantFailed = map[string]bool{
	"corrupt.jpg": true, "truncated.jpg": true, "zero.jpg": true, "notes.txt": true, "text.png": true,
}

// e2eInputs are the fixture images, copies of them (so a run lasts long
// enough to be killed), keys with spaces and unicode, and bad inputs.
func e2eInputs(t *testing.T) map[string][]byte {
	dir := testsupport.Fixtures(t, "images")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string][]byte{}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		in[e.Name()] = data
		for i := range 4 {
			in[fmt.Sprintf("copies/%d/%s", i, e.Name())] = data
		}
	}
	dog := in["dog-768x576.jpg"]
	in["with space/ünïcødé 猫.jpg"] = dog
	in["corrupt.jpg"] = append([]byte("\xFF\xD8\xFF\xE0"), bytes.Repeat([]byte{0x5A}, 500)...)
	in["truncated.jpg"] = dog[:len(dog)/2]
	in["zero.jpg"] = nil
	in["notes.txt"] = []byte("not an image")
	in["text.png"] = []byte("text in a file named like an image")
	return in
}

func buildMlserve(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "mlserve")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mlserve")
	cmd.Dir = testsupport.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func (e *e2e) run(t *testing.T, in string, out func(name string) string) {
	ctx := context.Background()
	is := openStore(t, in)
	for k, v := range e.inputs {
		if err := is.Put(ctx, k, bytes.NewReader(v), int64(len(v))); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("shards", func(t *testing.T) {
		o := out("sharded")
		// Three children of an AWS Batch array job, at once.
		var cmds []*exec.Cmd
		for i := range 3 {
			cmd := e.command(t, "--input", in, "--output", o, "--max-failures", "100%", "--format", "csv")
			cmd.Env = append(cmd.Env, fmt.Sprintf("AWS_BATCH_JOB_ARRAY_INDEX=%d", i), "MLSERVE_SHARDS=3")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		for i, cmd := range cmds {
			if code := exitCode(cmd.Wait()); code != 0 {
				t.Fatalf("shard %d: exit %d\n%s", i, code, cmd.Stderr)
			}
		}
		e.checkComplete(t, in, o, 3)
		sums := summaries(t, o, 3)
		for _, s := range sums {
			if s.Inputs == 0 || s.Skipped != 0 || s.Interrupted {
				t.Errorf("shard summary %+v", s)
			}
		}
		e.checkJobSummary(t, o, 3)
		// Rerun: everything is skipped, nothing is classified again.
		for i := range 3 {
			cmd := e.command(t, "--input", in, "--output", o, "--max-failures", "100%", "--shard", fmt.Sprint(i), "--shards", "3")
			if code := exitCode(cmd.Run()); code != 0 {
				t.Fatalf("rerun shard %d: exit %d\n%s", i, code, cmd.Stderr)
			}
		}
		for _, s := range summaries(t, o, 3) {
			if s.Skipped != s.Inputs || s.Processed != 0 {
				t.Errorf("rerun did work: %+v", s)
			}
		}
		e.checkComplete(t, in, o, 3)
		// Without --max-failures the bad inputs make the exit status 1.
		cmd := e.command(t, "--input", in, "--output", o, "--shard", "0", "--shards", "1")
		if code := exitCode(cmd.Run()); code != 1 {
			t.Errorf("with failures and --max-failures 0: exit %d, want 1\n%s", code, cmd.Stderr)
		}
	})

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			o := out("killed-" + strings.ReplaceAll(sig.String(), " ", ""))
			os := openStore(t, o)
			args := []string{"--input", in, "--output", o, "--max-failures", "100%", "--batch-size", "1", "--concurrency", "1"}
			cmd := e.command(t, args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitOutputs(t, os, 8, cmd)
			cmd.Process.Signal(sig)
			code := exitCode(cmd.Wait())
			want := 3
			if sig == syscall.SIGKILL {
				want = -1
			}
			if code != want {
				t.Fatalf("after %v: exit %d, want %d\n%s", sig, code, want, cmd.Stderr)
			}
			if sig == syscall.SIGTERM {
				s := summaries(t, o, 1)[0]
				if !s.Interrupted || s.Inputs == 0 || s.Inputs >= len(e.inputs) {
					t.Errorf("interrupted summary %+v", s)
				}
				e.checkRecords(t, in, o, 1) // partial, but each once
			}
			cmd = e.command(t, args...)
			if code := exitCode(cmd.Run()); code != 0 {
				t.Fatalf("rerun: exit %d\n%s", code, cmd.Stderr)
			}
			s := summaries(t, o, 1)[0]
			if s.Skipped < 8 || s.Inputs != len(e.inputs) {
				t.Errorf("rerun summary %+v: want >= 8 skipped of %d", s, len(e.inputs))
			}
			e.checkComplete(t, in, o, 1)
		})
	}
}

// checkJobSummary reads the job summary the last of shards children wrote
// under o: its counts add up to every input.
func (e *e2e) checkJobSummary(t *testing.T, o string, shards int) {
	t.Helper()
	var js batch.JobSummary
	rc, _, err := openStore(t, o).Open(context.Background(), batch.JobSummaryKey(e2eJob))
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(rc).Decode(&js)
	rc.Close()
	if err != nil || js.Images != len(e.inputs) || js.Succeeded+js.Failed != js.Images || !js.Complete || len(js.CSV) != shards {
		t.Errorf("job summary %+v, %v; want %d images", js, err, len(e.inputs))
	}
}

func (e *e2e) command(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(e.bin, append([]string{"batch", "--model", e.model, "--progress-interval", "500ms", "--job", e2eJob}, args...)...)
	cmd.Env = append(os.Environ(), "MLSERVE_CACHE_DIR="+e.cache)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode() // -1 when killed by a signal
	}
	return -2
}

func openStore(t *testing.T, url string) s3io.Store {
	s, err := s3io.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitOutputs waits until n per-input outputs exist.
func waitOutputs(t *testing.T, s s3io.Store, n int, cmd *exec.Cmd) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got := 0
		s.List(context.Background(), "", func(o s3io.Object) error {
			if strings.HasSuffix(o.Key, ".json") {
				got++
			}
			return nil
		})
		if got >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatalf("fewer than %d outputs after 60s\n%s", n, cmd.Stderr)
}

// e2eJob is the --job of every e2e run: its records are under jobDir.
const e2eJob = "e2e"

func jobDir(out string) string { return s3io.JoinURL(out, batch.JobPrefix(e2eJob)) }

func summaries(t *testing.T, out string, shards int) []batch.Summary {
	s := openStore(t, jobDir(out))
	var sums []batch.Summary
	for i := range shards {
		rc, _, err := s.Open(context.Background(), fmt.Sprintf("summary-%d.json", i))
		if err != nil {
			t.Fatal(err)
		}
		var sum batch.Summary
		err = json.NewDecoder(rc).Decode(&sum)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum)
	}
	return sums
}

// checkRecords asserts that no input is recorded twice across the shards'
// files, and returns the records by input key.
func (e *e2e) checkRecords(t *testing.T, in, out string, shards int) (results map[string]api.Result, failures map[string]batch.Failure) {
	t.Helper()
	s := openStore(t, jobDir(out))
	results, failures = map[string]api.Result{}, map[string]batch.Failure{}
	seen := map[string]bool{}
	record := func(uri string) string {
		key, ok := strings.CutPrefix(uri, in)
		if !ok {
			t.Errorf("record for %q, not under %q", uri, in)
		}
		if seen[key] {
			t.Errorf("%s recorded twice", key)
		}
		seen[key] = true
		return key
	}
	for i := range shards {
		for _, line := range lines(t, s, fmt.Sprintf("results-%d.jsonl", i)) {
			var r api.Result
			if err := json.Unmarshal(line, &r); err != nil || r.Source == nil {
				t.Fatalf("result line %s: %v", line, err)
			}
			results[record(r.Source.URI)] = r
		}
		for _, line := range lines(t, s, fmt.Sprintf("failures-%d.jsonl", i)) {
			var f batch.Failure
			if err := json.Unmarshal(line, &f); err != nil {
				t.Fatalf("failure line %s: %v", line, err)
			}
			failures[record(f.Input)] = f
		}
	}
	return results, failures
}

// checkComplete asserts that every input has exactly one record, the right
// kind, and its per-input output.
func (e *e2e) checkComplete(t *testing.T, in, out string, shards int) {
	t.Helper()
	results, failures := e.checkRecords(t, in, out, shards)
	s := openStore(t, out)
	for k, data := range e.inputs {
		r, ok := results[k]
		f, failed := failures[k]
		switch {
		case wantFailed[k] && !failed:
			t.Errorf("%s: no failure record (result %+v)", k, r)
		case wantFailed[k]:
			if f.Code == "" || f.Code == infer.CodeInternal || f.Attempt < 1 {
				t.Errorf("%s: failure %+v", k, f)
			}
		case !ok:
			t.Errorf("%s: no result (failure %+v)", k, f)
		case len(r.Predictions) != 5 || r.Source.Size != int64(len(data)) || r.Source.ETag == "":
			t.Errorf("%s: result %+v source %+v", k, r, r.Source)
		}
		if ok, err := s3io.Exists(context.Background(), s, k+".json"); !ok {
			t.Errorf("%s: no output %s.json (%v)", k, k, err)
		}
	}
	if n := len(results) + len(failures); n != len(e.inputs) {
		t.Errorf("%d records for %d inputs", n, len(e.inputs))
	}
	if code := failures["notes.txt"].Code; code != "not_an_image" {
		t.Errorf("notes.txt: code %q, want not_an_image", code)
	}
	if code := failures["zero.jpg"].Code; code != "empty" {
		t.Errorf("zero.jpg: code %q, want empty", code)
	}
}

func lines(t *testing.T, s s3io.Store, key string) [][]byte {
	rc, _, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	var out [][]byte
	sc := bufio.NewScanner(rc)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}
