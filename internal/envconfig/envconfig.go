// Package envconfig is the one place that reads MLSERVE_* environment
// variables: each is declared here with its default and description, flags
// override them, and --help lists them.
package envconfig

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Var is one environment variable.
type Var struct {
	Name    string
	Default string
	Usage   string
}

// Vars lists every variable mlserve reads. Keep it sorted by name.
var Vars = []Var{
	{"MLSERVE_ADDR", ":8080", "serve: listen address"},
	{"MLSERVE_BATCH_WAIT", "100ms", "serve: longest wait for images still decoding to join a dynamic batch (a lone request never waits)"},
	{"MLSERVE_BUCKET", "", "lambda: bucket a scheduled {\"sweep\"} lists when the event names none"},
	{"MLSERVE_CACHE_DIR", "", "model cache directory (default: the user cache dir + /mlserve)"},
	{"MLSERVE_DIRECT_MAX", "5", "lambda: windows of at most this many uploads are classified in the function, not in AWS Batch (0: never)"},
	{"MLSERVE_GEMM_KERNEL", "", "force the GEMM micro-kernel: avx512, avx2 or generic (default: the best this CPU runs)"},
	{"MLSERVE_IMAGES_PER_CHILD", "6000", "lambda, submit: images per AWS Batch array child (about 10 minutes of ResNet-50 work)"},
	{"MLSERVE_INPUT_PREFIX", "input/", "lambda: S3 key prefix whose uploads submit batch jobs"},
	{"MLSERVE_JOB_DEFINITION", "", "lambda: AWS Batch job definition for submitted jobs"},
	{"MLSERVE_JOB_NAME_PREFIX", "mlserve", "lambda: prefix of submitted AWS Batch job names"},
	{"MLSERVE_JOB_QUEUE", "", "lambda: AWS Batch job queue for submitted jobs"},
	{"MLSERVE_LABELS", "", "class names file, one per line (default: ImageNet for the default model)"},
	{"MLSERVE_LOG_FORMAT", "text", "log format: text or json"},
	{"MLSERVE_LOG_LEVEL", "info", "log level: debug, info, warn, error"},
	{"MLSERVE_MAX_BATCH", "8", "serve: largest dynamic batch"},
	{"MLSERVE_MAX_BODY_BYTES", "10485760", "serve: largest request body in bytes"},
	{"MLSERVE_MAX_PIXELS", "50000000", "largest image in pixels, checked before decoding"},
	{"MLSERVE_MODEL", "", "model: a path, file://, https:// or s3:// URL (default: the cached resnet50-v1-12)"},
	{"MLSERVE_OUTPUT_PREFIX", "output/", "lambda: S3 key prefix the submitted jobs write to"},
	{"MLSERVE_PROFILE", "", "1 prints time and GFLOP/s per engine op after each run"},
	{"MLSERVE_QUEUE", "64", "serve: images that may wait for the engine before 503"},
	{"MLSERVE_S3_PATH_STYLE", "", "S3 path-style addressing: true or false (default: true when AWS_ENDPOINT_URL_S3 is set)"},
	{"MLSERVE_SHARDS", "", "batch: number of shards of an AWS Batch array job"},
	{"MLSERVE_SHUTDOWN_DELAY", "0s", "serve: time /readyz answers 503 before the server stops accepting on SIGTERM"},
	{"MLSERVE_SHUTDOWN_GRACE", "25s", "serve: time in-flight requests get to finish on SIGTERM"},
	{"MLSERVE_SUBMIT_ONLY", "false", "lambda: true for a function that only submits Batch jobs for S3 uploads: no model is loaded"},
	{"MLSERVE_TIMEOUT", "30s", "serve: per-request deadline"},
	{"MLSERVE_TOP_K", "5", "number of classes reported per image"},
}

func lookup(name string) Var {
	for _, v := range Vars {
		if v.Name == name {
			return v
		}
	}
	panic("envconfig: undeclared variable " + name) // programming error: declare it in Vars
}

// String returns the variable's value, or its default when unset or empty.
func String(name string) string {
	v := lookup(name)
	if s := strings.TrimSpace(os.Getenv(name)); s != "" {
		return s
	}
	return v.Default
}

// Int returns the variable as an int.
func Int(name string) (int, error) {
	s := String(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not an integer", name, s)
	}
	return n, nil
}

// Duration returns the variable as a time.Duration.
func Duration(name string) (time.Duration, error) {
	s := String(name)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a duration", name, s)
	}
	return d, nil
}

// Help returns the variables as an aligned table for --help.
func Help() string {
	vs := append([]Var(nil), Vars...)
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	var b strings.Builder
	for _, v := range vs {
		def := ""
		if v.Default != "" {
			def = fmt.Sprintf(" (default %q)", v.Default)
		}
		fmt.Fprintf(&b, "  %-24s %s%s\n", v.Name, v.Usage, def)
	}
	return b.String()
}
