package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"
)

func TestFunctions(t *testing.T) {
	s := synth(t, "default")
	images := 0
	for _, p := range s.resources("AWS::Lambda::Function") {
		if p["PackageType"] == "Image" {
			images++
		}
	}
	if images != 2 {
		t.Errorf("image functions: got %d, want 2 (predict, submitter)", images)
	}
	t.Run("no reservation, no direct bursts", func(t *testing.T) {
		none := synth(t, "public")
		for _, prefix := range []string{"mlserve predict", "mlserve submitter"} {
			if _, p := none.imageFunction(t, prefix); p["ReservedConcurrentExecutions"] != nil {
				t.Errorf("%s: ReservedConcurrentExecutions %v, want none", prefix, p["ReservedConcurrentExecutions"])
			}
		}
		_, p := none.imageFunction(t, "mlserve submitter")
		if got := p["Environment"].(map[string]any)["Variables"].(map[string]any)["MLSERVE_DIRECT_MAX"]; got != "0" {
			t.Errorf("MLSERVE_DIRECT_MAX: got %v, want 0 (off)", got)
		}
	})
	tests := []struct {
		prefix   string
		memory   float64
		timeout  float64
		reserved float64
		env      map[string]string
	}{
		{"mlserve predict", 3008, 60, 20, map[string]string{"MLSERVE_MODEL": ModelPath, "MLSERVE_LOG_FORMAT": "json",
			"MLSERVE_UPLOAD_PREFIX": UploadsPrefix, "MLSERVE_UPLOAD_MAX_BYTES": "52428800", "MLSERVE_UPLOAD_EXPIRY": "5m"}},
		{"mlserve submitter", 3008, 300, 5, map[string]string{
			"MLSERVE_MODEL":            ModelPath, // small bursts are classified in the function
			"MLSERVE_JOB_NAME_PREFIX":  "mlserve",
			"MLSERVE_INPUT_PREFIX":     InputPrefix,
			"MLSERVE_OUTPUT_PREFIX":    OutputPrefix,
			"MLSERVE_IMAGES_PER_CHILD": "9600", // 4 vCPU x 2,400
			"MLSERVE_DIRECT_MAX":       "8",
			"MLSERVE_LOG_FORMAT":       "json",
			"MLSERVE_SUBMIT_ONLY":      "true", // no model at init; a direct burst loads it
		}},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			_, p := s.imageFunction(t, tt.prefix)
			if got := p["MemorySize"]; got != tt.memory {
				t.Errorf("MemorySize: got %v, want %v", got, tt.memory)
			}
			if got := p["Timeout"]; got != tt.timeout {
				t.Errorf("Timeout: got %v, want %v", got, tt.timeout)
			}
			if got := p["ReservedConcurrentExecutions"]; got != tt.reserved {
				t.Errorf("ReservedConcurrentExecutions: got %v, want %v", got, tt.reserved)
			}
			if got := jsonString(p["ImageConfig"]); got != `{"Command":["lambda"]}` {
				t.Errorf("ImageConfig: got %s, want the lambda command", got)
			}
			if got := p["Architectures"]; jsonString(got) != `["x86_64"]` {
				t.Errorf("Architectures: got %v", got)
			}
			env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			if tt.prefix == "mlserve predict" && env["MLSERVE_SUBMIT_ONLY"] != nil {
				t.Errorf("predict has MLSERVE_SUBMIT_ONLY=%v: it must load its model at init", env["MLSERVE_SUBMIT_ONLY"])
			}
			if tt.prefix == "mlserve submitter" {
				// The scheduled sweep event names only the prefix: the bucket comes from here.
				if data, _ := s.buckets(t); jsonString(env["MLSERVE_BUCKET"]) != jsonString(map[string]any{"Ref": data}) {
					t.Errorf("env MLSERVE_BUCKET: got %v, want a Ref to the data bucket %s", env["MLSERVE_BUCKET"], data)
				}
			}
			for k, want := range tt.env {
				if env[k] != want {
					t.Errorf("env %s: got %v, want %q", k, env[k], want)
				}
			}
			if _, ok := p["LoggingConfig"].(map[string]any)["LogGroup"]; !ok {
				t.Errorf("no log group of its own: %v", p["LoggingConfig"])
			}
		})
	}
	t.Run("predict presigns uploads into the data bucket", func(t *testing.T) {
		_, p := s.imageFunction(t, "mlserve predict")
		data, _ := s.buckets(t)
		env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		if got := jsonString(env["MLSERVE_UPLOAD_BUCKET"]); got != `{"Ref":"`+data+`"}` {
			t.Errorf("MLSERVE_UPLOAD_BUCKET: got %s, want the data bucket %s", got, data)
		}
	})
	t.Run("submitter targets this queue and definition", func(t *testing.T) {
		_, p := s.imageFunction(t, "mlserve submitter")
		env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		s.namesOnly(t, "MLSERVE_JOB_QUEUE", env["MLSERVE_JOB_QUEUE"], "AWS::Batch::JobQueue")
		s.namesOnly(t, "MLSERVE_JOB_DEFINITION", env["MLSERVE_JOB_DEFINITION"], "AWS::Batch::JobDefinition")
	})
	assert(t, "every log group has a retention", func() {
		s.tmpl.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 14})
		// predict, submitter, job, API access logs, VPC flow logs
		s.tmpl.ResourceCountIs(jsii.String("AWS::Logs::LogGroup"), jsii.Number(5))
	})
}

// TestArchitecture: both functions, the job's Fargate platform and the
// image build follow the architecture setting; arm64 has no Spot (Fargate
// Spot runs x86_64 only).
func TestArchitecture(t *testing.T) {
	tests := []struct {
		variant, lambda, fargate, platform string
		envs                               []string
	}{
		{"default", "x86_64", "X86_64", "linux/amd64", []string{"FARGATE", "FARGATE_SPOT"}},
		{"arm64-jwt", "arm64", "ARM64", "linux/arm64", []string{"FARGATE"}},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synth(t, tt.variant)
			for _, prefix := range []string{"mlserve predict", "mlserve submitter"} {
				if _, p := s.imageFunction(t, prefix); jsonString(p["Architectures"]) != `["`+tt.lambda+`"]` {
					t.Errorf("%s Architectures: got %v, want %s", prefix, p["Architectures"], tt.lambda)
				}
			}
			for id, d := range s.resources("AWS::Batch::JobDefinition") {
				rp := d["ContainerProperties"].(map[string]any)["RuntimePlatform"]
				if got := jsonString(rp); got != `{"CpuArchitecture":"`+tt.fargate+`","OperatingSystemFamily":"LINUX"}` {
					t.Errorf("%s RuntimePlatform: got %s, want %s", id, got, tt.fargate)
				}
			}
			var envs []string
			for _, p := range s.resources("AWS::Batch::ComputeEnvironment") {
				envs = append(envs, p["ComputeResources"].(map[string]any)["Type"].(string))
			}
			if slices.Sort(envs); !slices.Equal(envs, tt.envs) {
				t.Errorf("compute environments: got %v, want %v", envs, tt.envs)
			}
			for _, img := range s.assets(t).DockerImages {
				if img.Source.Platform != tt.platform {
					t.Errorf("image platform: got %q, want %q", img.Source.Platform, tt.platform)
				}
			}
		})
	}
}

func TestOutputs(t *testing.T) {
	s := synth(t, "default")
	outs := s.json["Outputs"].(map[string]any)
	tests := []struct {
		name string
		want []string
	}{
		{"ApiUrl", nil},
		{"PredictUrl", []string{"predict"}},
		{"BucketName", nil},
		{"CurlExample", []string{"curl ", "--data-binary @", "predict"}},
		{"BatchInputExample", []string{"aws s3 cp ", "s3://", "/" + InputPrefix, "--recursive"}},
		{"PredictInvokeArn", []string{"execute-api", "/$default/POST/predict"}},
		{"UploadsInvokeArn", []string{"execute-api", "/$default/POST/uploads"}},
		{"DeadLetterQueueUrl", []string{"IngestDeadLetters"}},
		{"DeadLetterQueueArn", []string{"IngestDeadLetters"}},
		{"DeadLetterAlarmName", []string{"IngestDeadLettersAlarm"}},
		{"IngestQueueUrl", []string{"Ingest"}},
		{"IngestQueueArn", []string{"Ingest", "Arn"}},
		{"SubmitterName", []string{"Submitter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := outs[tt.name].(map[string]any)
			if !ok {
				t.Fatalf("no output %s; have %v", tt.name, slices.Sorted(mapsKeys(outs)))
			}
			v := jsonString(o["Value"])
			for _, w := range tt.want {
				if !strings.Contains(v, w) {
					t.Errorf("%s = %s: want it to contain %q", tt.name, v, w)
				}
			}
		})
	}
}

type assetManifest struct {
	DockerImages map[string]struct {
		Source struct {
			Directory         string `json:"directory"`
			DockerBuildTarget string `json:"dockerBuildTarget"`
			Platform          string `json:"platform"`
		} `json:"source"`
	} `json:"dockerImages"`
}

func (s *synthed) assets(t *testing.T) assetManifest {
	t.Helper()
	var manifest assetManifest
	raw, err := os.ReadFile(filepath.Join(s.outdir, "MLServe.assets.json"))
	if err == nil {
		err = json.Unmarshal(raw, &manifest)
	}
	if err != nil {
		t.Fatal(err)
	}
	return manifest
}

// TestImageAsset checks that synth stages the repository as one Docker
// asset without Docker, and leaves out what the image does not need.
func TestImageAsset(t *testing.T) {
	s := synth(t, "default")
	manifest := s.assets(t)
	if len(manifest.DockerImages) != 1 {
		t.Fatalf("docker images: got %d, want 1 shared by both functions and the job", len(manifest.DockerImages))
	}
	for _, img := range manifest.DockerImages {
		if img.Source.DockerBuildTarget != "runtime" || img.Source.Platform != "linux/amd64" {
			t.Errorf("build: target %q platform %q", img.Source.DockerBuildTarget, img.Source.Platform)
		}
		dir := filepath.Join(s.outdir, img.Source.Directory)
		for _, want := range []string{"Dockerfile", "go.mod", "cmd/mlserve/main.go", "models/manifest.json", "scripts/fetch-model.sh"} {
			if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
				t.Errorf("staged image context lacks %s: %v", want, err)
			}
		}
		for _, unwanted := range []string{".git", "deploy", "bin"} {
			if _, err := os.Stat(filepath.Join(dir, unwanted)); err == nil {
				t.Errorf("staged image context has %s", unwanted)
			}
		}
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".onnx") {
				t.Errorf("staged image context has a model file %s", path)
			}
			return err
		})
	}
}

func TestPropsValidation(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Props)
		want string
	}{
		{"defaults", func(*Props) {}, ""},
		{"predict memory too large", func(p *Props) { p.PredictMemoryMiB = 20000 }, "predict memory"},
		{"too many attempts", func(p *Props) { p.JobAttempts = 11 }, "job attempts"},
		{"tiny timeout", func(p *Props) { p.JobTimeout = 1 }, "job timeout"},
		{"queue smaller than a job", func(p *Props) { p.MaxVCPUs = 2; p.JobVCPU = 4 }, "max vCPUs"},
		{"unknown architecture", func(p *Props) { p.Architecture = "riscv64" }, "architecture"},
		{"unknown auth", func(p *Props) { p.Auth = "none" }, "auth"},
		{"jwt without issuer", func(p *Props) { p.Auth = AuthJWT; p.JWTAudience = []string{"a"} }, "issuer"},
		{"jwt over http", func(p *Props) { p.Auth = AuthJWT; p.JWTIssuer = "http://id.example.com"; p.JWTAudience = []string{"a"} }, "issuer"},
		{"jwt without audience", func(p *Props) { p.Auth = AuthJWT; p.JWTIssuer = "https://id.example.com" }, "audience"},
		{"issuer without jwt", func(p *Props) { p.JWTIssuer = "https://id.example.com" }, "jwt issuer"},
		{"bad cors origin", func(p *Props) { p.CORSOrigins = []string{"example.com"} }, "cors origin"},
		{"negative rate", func(p *Props) { p.ThrottleRate = -1 }, "throttle rate"},
		{"reserved below burst", func(p *Props) { p.PredictConcurrency = 5 }, "below the throttle burst"},
		{"submitter below the mapping's concurrency", func(p *Props) { p.SubmitterConcurrency = 1 }, "submitter concurrency"},
		{"window too long", func(p *Props) { p.BatchWindow = 301 * time.Second }, "batch window"},
		{"window in fractions", func(p *Props) { p.BatchWindow = 1500 * time.Millisecond }, "whole seconds"},
		{"batch too large", func(p *Props) { p.BatchSize = 10001 }, "batch size"},
		{"submitter timeout over Lambda's", func(p *Props) { p.SubmitterTimeout = 16 * time.Minute }, "submitter timeout"},
		{"bad schedule", func(p *Props) { p.SweepSchedule = "daily" }, "sweep schedule"},
		{"alarm topic not an ARN", func(p *Props) { p.AlarmTopicARN = "ops-alerts" }, "alarm topic"},
		{"alarm topic not SNS", func(p *Props) { p.AlarmTopicARN = "arn:aws:sqs:us-east-1:123456789012:ops" }, "alarm topic"},
		{"no reservations", func(p *Props) { p.PredictConcurrency = -1; p.SubmitterConcurrency = -1 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Defaults()
			tt.mod(&p)
			err := p.fill()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
}
