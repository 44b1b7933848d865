package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"

	"github.com/mlserve/mlserve/internal/s3io"
)

type recordingSubmitter struct{ ins []*awsbatch.SubmitJobInput }

func (r *recordingSubmitter) SubmitJob(_ context.Context, in *awsbatch.SubmitJobInput, _ ...func(*awsbatch.Options)) (*awsbatch.SubmitJobOutput, error) {
	r.ins = append(r.ins, in)
	return &awsbatch.SubmitJobOutput{JobId: aws.String("job-1"), JobName: in.JobName}, nil
}

var submitBuckets atomic.Int64

// memDeps serves s3://<bucket>/ from a fresh mem:// bucket holding keys.
func memDeps(t *testing.T, keys ...string) (string, submitDeps, *recordingSubmitter) {
	bucket := fmt.Sprintf("submit-%d", submitBuckets.Add(1))
	open := func(ctx context.Context, url string) (s3io.Store, error) {
		return s3io.Open(ctx, "mem://"+strings.TrimPrefix(url, "s3://"))
	}
	s, _ := open(context.Background(), "s3://"+bucket+"/")
	for _, k := range keys {
		s.Put(context.Background(), k, strings.NewReader("x"), 1)
	}
	rec := &recordingSubmitter{}
	return bucket, submitDeps{jobs: rec, open: open, write: memWriter{open}, now: func() time.Time { return time.Unix(0, 0) }}, rec
}

type memWriter struct {
	open func(context.Context, string) (s3io.Store, error)
}

func (m memWriter) WriteURL(ctx context.Context, uri string, data []byte) error {
	parent, key, err := s3io.Split(uri)
	if err != nil {
		return err
	}
	s, err := m.open(ctx, parent)
	if err != nil {
		return err
	}
	return s.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
}

func TestSubmitInput(t *testing.T) {
	bucket, deps, rec := memDeps(t, "input/a.jpg", "input/b.jpg", "input/c.png", "output/a.jpg.json", "input/notes.txt")
	var out, errb bytes.Buffer
	o := submitOptions{IO: IO{Out: &out, Err: &errb}, Input: "s3://" + bucket + "/input", OutputPrefix: "output/",
		JobQueue: "q", JobDefinition: "d", ImagesPerChild: 1, ManifestPrefix: "manifests/"}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	if err := runSubmit(context.Background(), o, deps); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if len(rec.ins) != 1 || aws.ToInt32(rec.ins[0].ArrayProperties.Size) != 2 {
		t.Fatalf("SubmitJob inputs %+v", rec.ins)
	}
	var job map[string]any
	if err := json.Unmarshal(out.Bytes(), &job); err != nil || job["images"] != 2.0 || job["job_id"] != "job-1" {
		t.Errorf("output %s: %v", out.String(), err)
	}
	cmd := strings.Join(rec.ins[0].ContainerOverrides.Command, " ")
	if !strings.Contains(cmd, "--input s3://"+bucket+"/input/ --output s3://"+bucket+"/output/") {
		t.Errorf("command %q", cmd)
	}
}

func TestSubmitUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    submitOptions
		want string
	}{
		{"nothing", submitOptions{ImagesPerChild: 1}, "--input or --manifest"},
		{"local input", submitOptions{Input: "./photos", ImagesPerChild: 1}, "want s3://"},
		{"all with manifest", submitOptions{Manifest: "s3://b/m.jsonl", All: true, ImagesPerChild: 1}, "--all"},
		{"no queue", submitOptions{Input: "s3://b/input/", ImagesPerChild: 1}, "--job-queue"},
		{"bad size", submitOptions{Input: "s3://b/input/", ImagesPerChild: 0, DryRun: true}, "--images-per-child"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.check()
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCodeOf(err) != ExitUsage {
				t.Errorf("check() = %v, want a usage error about %s", err, tc.want)
			}
		})
	}
}

func TestSubmitManifestAndDryRun(t *testing.T) {
	bucket, deps, rec := memDeps(t)
	s, _ := deps.open(context.Background(), "s3://"+bucket+"/")
	man := fmt.Sprintf("\"s3://%[1]s/input/a.jpg\"\n\"s3://%[1]s/input/b.jpg\"\n\"s3://%[1]s/input/c.jpg\"\n", bucket)
	s.Put(context.Background(), "manifests/m.jsonl", strings.NewReader(man), -1)
	for _, dry := range []bool{true, false} {
		var out bytes.Buffer
		o := submitOptions{IO: IO{Out: &out, Err: &bytes.Buffer{}}, Manifest: "s3://" + bucket + "/manifests/m.jsonl",
			Input: "s3://" + bucket + "/input/", OutputPrefix: "output/", JobQueue: "q", JobDefinition: "d", ImagesPerChild: 2, DryRun: dry}
		if err := o.check(); err != nil {
			t.Fatal(err)
		}
		if err := runSubmit(context.Background(), o, deps); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || got["images"] != 3.0 || got["array_size"] != 2.0 {
			t.Errorf("dry run %v: output %s", dry, out.String())
		}
	}
	if len(rec.ins) != 1 {
		t.Fatalf("%d SubmitJob calls, want 1 (the dry run submits nothing)", len(rec.ins))
	}
	if cmd := strings.Join(rec.ins[0].ContainerOverrides.Command, " "); !strings.HasPrefix(cmd, "batch --manifest s3://"+bucket+"/manifests/m.jsonl --input") {
		t.Errorf("command %q", cmd)
	}
}
