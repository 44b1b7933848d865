package config

import (
	"bytes"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/submit"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestVarsSortedAndUnique(t *testing.T) {
	if !sort.SliceIsSorted(vars, func(i, j int) bool { return vars[i].name < vars[j].name }) {
		t.Error("vars is not sorted by name")
	}
	help := Help()
	for i, v := range vars {
		if i > 0 && v.name == vars[i-1].name {
			t.Errorf("%s declared twice", v.name)
		}
		if !strings.HasPrefix(v.name, "MLSERVE_") || v.usage == "" || !strings.Contains(help, v.name) {
			t.Errorf("%s: bad declaration or missing from Help", v.name)
		}
		if !Declared(v.name) {
			t.Errorf("%s: not Declared", v.name)
		}
	}
	if Declared("MLSERVE_NOT_A_VARIABLE") {
		t.Error("an undeclared name is Declared")
	}
}

// The defaults are the ones the README and --help document.
func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.TopK != 5 || c.MaxBatch != 8 || c.BatchWait != 100*time.Millisecond || c.Queue != 64 ||
		c.MaxBodyBytes != 10<<20 || c.MaxPixels != 50_000_000 || c.Timeout != 30*time.Second ||
		c.ShutdownGrace != 25*time.Second || c.ShutdownDelay != 3*time.Second || c.LogFormat != "text" || c.LogLevel != "info" ||
		c.InputPrefix != "input/" || c.OutputPrefix != "output/" || c.JobNamePrefix != "mlserve" ||
		c.SubmitOnly || c.Profile || c.S3PathStyle != nil || c.Shards != 0 || c.OnLambda() ||
		c.ImagesPerChild != submit.DefaultImagesPerChild || c.DirectMax != 5 || c.Bucket != "" {
		t.Errorf("defaults %+v", c)
	}
}

// submit.DefaultImagesPerChild is the documented 6000 that
// MLSERVE_IMAGES_PER_CHILD defaults to.
func TestImagesPerChildDefault(t *testing.T) {
	if c := Default(); c.ImagesPerChild != 6000 || submit.DefaultImagesPerChild != 6000 {
		t.Errorf("MLSERVE_IMAGES_PER_CHILD default %d, submit.DefaultImagesPerChild %d: want both 6000", c.ImagesPerChild, submit.DefaultImagesPerChild)
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"MLSERVE_TOP_K": " 7 ", "MLSERVE_BATCH_WAIT": "2ms", "MLSERVE_MAX_BODY_BYTES": "1000", "MLSERVE_PROFILE": "1",
		"MLSERVE_S3_PATH_STYLE": "false", "MLSERVE_LOG_FORMAT": "JSON", "MLSERVE_SHARDS": "4", "MLSERVE_MODEL": "s3://b/m.onnx",
		"MLSERVE_DIRECT_MAX": "0", "MLSERVE_IMAGES_PER_CHILD": "100", "MLSERVE_BUCKET": "photos",
		"MLSERVE_QUEUE":          "", // empty is unset: the default
		"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TopK != 7 || c.BatchWait != 2*time.Millisecond || c.MaxBodyBytes != 1000 || !c.Profile ||
		c.S3PathStyle == nil || *c.S3PathStyle || c.LogFormat != "json" || c.Shards != 4 || c.Model != "s3://b/m.onnx" ||
		c.Queue != 64 || !c.OnLambda() || c.DirectMax != 0 || c.ImagesPerChild != 100 || c.Bucket != "photos" {
		t.Errorf("values %+v", c)
	}
}

// Every bad value is reported, each naming its variable, and leaves the
// default in place.
func TestBadValues(t *testing.T) {
	bad := map[string]string{
		"MLSERVE_TOP_K":            "seven",
		"MLSERVE_MAX_BATCH":        "0",
		"MLSERVE_TIMEOUT":          "soon",
		"MLSERVE_SHUTDOWN_GRACE":   "-1s",
		"MLSERVE_SUBMIT_ONLY":      "yes please",
		"MLSERVE_S3_PATH_STYLE":    "maybe",
		"MLSERVE_LOG_LEVEL":        "loud",
		"MLSERVE_MAX_BODY_BYTES":   "-5",
		"MLSERVE_SHARDS":           "0",
		"MLSERVE_IMAGES_PER_CHILD": "0",
		"MLSERVE_DIRECT_MAX":       "-1",
	}
	for name, value := range bad {
		t.Run(name, func(t *testing.T) {
			c, err := Load(env(map[string]string{name: value}))
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Errs) != 1 || !strings.Contains(err.Error(), name) || c.Err() != err {
				t.Fatalf("err = %v", err)
			}
			if d := Default(); vget(t, c, name) != vget(t, d, name) {
				t.Errorf("%s: bad value not left at the default", name)
			}
		})
	}
	_, err := Load(env(bad))
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Errs) != len(bad) {
		t.Errorf("all at once: %v", err)
	}
	if _, err := Load(env(map[string]string{"MLSERVE_TOP_K": "1001"})); err == nil || !strings.Contains(err.Error(), "1 to 1000") {
		t.Errorf("top_k 1001: %v", err)
	}
}

func vget(t *testing.T, c *Config, name string) string {
	for _, v := range vars {
		if v.name == name {
			return v.get(c)
		}
	}
	t.Fatalf("%s not declared", name)
	return ""
}

// The effective configuration logs the variables set away from their
// defaults, by name.
func TestLogValue(t *testing.T) {
	c, _ := Load(env(map[string]string{"MLSERVE_TOP_K": "3", "MLSERVE_ADDR": ":8080", "MLSERVE_JOB_QUEUE": "q"}))
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, nil)).Info("start", "env", c)
	out := b.String()
	if !strings.Contains(out, "env.MLSERVE_TOP_K=3") || !strings.Contains(out, "env.MLSERVE_JOB_QUEUE=q") || strings.Contains(out, "MLSERVE_ADDR") {
		t.Errorf("log %q", out)
	}
}

// TestLogValueHidesToken checks that the bearer token never reaches a log.
func TestLogValueHidesToken(t *testing.T) {
	c, err := Load(func(k string) (string, bool) {
		if k == "MLSERVE_TOKEN" {
			return "s3cr3t-token", true
		}
		return "", false
	})
	if err != nil || c.Token != "s3cr3t-token" {
		t.Fatalf("Load: %v %q", err, c.Token)
	}
	if got := c.LogValue().String(); strings.Contains(got, "s3cr3t") || !strings.Contains(got, "MLSERVE_TOKEN") {
		t.Errorf("LogValue = %s", got)
	}
}
