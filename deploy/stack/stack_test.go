package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// assert runs a CDK assertion. A failed assertion is a jsii exception,
// which the Go bindings raise as a panic: turn it into a test failure so
// the other checks still run and the binary does not abort.
func assert(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// repoRoot is the directory with the Dockerfile, two levels up.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	return dir
}

type synthed struct {
	tmpl   assertions.Template
	json   map[string]any
	outdir string
}

var (
	synthMu    sync.Mutex
	synthCache = map[bool]*synthed{}
)

// synth builds the stack once per FunctionURL setting into a temp outdir
// (asset staging copies the image directory there; no Docker involved).
func synth(t *testing.T, functionURL bool) *synthed {
	t.Helper()
	synthMu.Lock()
	defer synthMu.Unlock()
	if s, ok := synthCache[functionURL]; ok {
		return s
	}
	outdir, err := os.MkdirTemp("", "cdk-test-*")
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	props := Defaults()
	props.ImageDir = repoRoot(t)
	props.FunctionURL = functionURL
	st, err := New(app, "MLServe", props)
	if err != nil {
		t.Fatal(err)
	}
	var s synthed
	assert(t, "synth", func() {
		s.tmpl = assertions.Template_FromStack(st, nil)
		app.Synth(nil)
	})
	if s.tmpl == nil {
		t.FailNow()
	}
	raw, err := json.Marshal(s.tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &s.json); err != nil {
		t.Fatal(err)
	}
	s.outdir = outdir
	synthCache[functionURL] = &s
	return &s
}

func TestMain(m *testing.M) {
	// The jsii kernel runs on the machine's Node.js; it starts on first use.
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code := m.Run()
	for _, s := range synthCache {
		os.RemoveAll(s.outdir)
	}
	os.Exit(code)
}

func (s *synthed) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			props, _ := r["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

// imageFunction returns the logical id and properties of the container
// image function whose description starts with prefix.
func (s *synthed) imageFunction(t *testing.T, prefix string) (string, map[string]any) {
	t.Helper()
	for id, p := range s.resources("AWS::Lambda::Function") {
		if p["PackageType"] == "Image" && strings.HasPrefix(p["Description"].(string), prefix) {
			return id, p
		}
	}
	t.Fatalf("no image function %q", prefix)
	return "", nil
}

// roleOf returns the logical id of the role a resource's property refers to.
func roleOf(t *testing.T, v any) string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("role: not a reference: %v", v)
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok {
		return ga[0].(string)
	}
	if ref, ok := m["Ref"].(string); ok {
		return ref
	}
	t.Fatalf("role: not a reference: %v", v)
	return ""
}

// statements returns every IAM policy statement attached to a role.
func (s *synthed) statements(role string) []map[string]any {
	var out []map[string]any
	for _, p := range s.resources("AWS::IAM::Policy") {
		attached := false
		for _, r := range p["Roles"].([]any) {
			if r.(map[string]any)["Ref"] == role {
				attached = true
			}
		}
		if !attached {
			continue
		}
		for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestBucket(t *testing.T) {
	s := synth(t, false)
	assert(t, "one bucket", func() { s.tmpl.ResourceCountIs(jsii.String("AWS::S3::Bucket"), jsii.Number(1)) })
	assert(t, "encrypted, private, no fixed name", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
			"BucketName": assertions.Match_Absent(),
			"BucketEncryption": map[string]any{
				"ServerSideEncryptionConfiguration": []any{map[string]any{
					"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"},
				}},
			},
			"PublicAccessBlockConfiguration": map[string]any{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
		})
	})
	assert(t, "kept on destroy by default", func() {
		s.tmpl.HasResource(jsii.String("AWS::S3::Bucket"), map[string]any{"DeletionPolicy": "Retain"})
	})
	assert(t, "SSL enforced", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect":    "Deny",
				"Action":    "s3:*",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			})})},
		})
	})
	submitter, _ := s.imageFunction(t, "mlserve submitter")
	assert(t, "uploads under input/ notify the submitter", func() {
		s.tmpl.HasResourceProperties(jsii.String("Custom::S3BucketNotifications"), map[string]any{
			"NotificationConfiguration": map[string]any{
				"LambdaFunctionConfigurations": []any{map[string]any{
					"Events": []any{"s3:ObjectCreated:*"},
					"Filter": map[string]any{"Key": map[string]any{
						"FilterRules": []any{map[string]any{"Name": "prefix", "Value": InputPrefix}},
					}},
					"LambdaFunctionArn": map[string]any{"Fn::GetAtt": []any{submitter, "Arn"}},
				}},
			},
		})
	})
}

func TestFunctions(t *testing.T) {
	s := synth(t, false)
	images := 0
	for _, p := range s.resources("AWS::Lambda::Function") {
		if p["PackageType"] == "Image" {
			images++
		}
	}
	if images != 2 {
		t.Errorf("image functions: got %d, want 2 (predict, submitter)", images)
	}
	tests := []struct {
		prefix string
		memory float64
		env    map[string]string
	}{
		{"mlserve predict", 3008, map[string]string{"MLSERVE_MODEL": ModelPath}},
		{"mlserve submitter", 256, map[string]string{
			"MLSERVE_SUBMIT_ONLY":     "true",
			"MLSERVE_JOB_NAME_PREFIX": "mlserve",
			"MLSERVE_INPUT_PREFIX":    InputPrefix,
			"MLSERVE_OUTPUT_PREFIX":   OutputPrefix,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			_, p := s.imageFunction(t, tt.prefix)
			if got := p["MemorySize"]; got != tt.memory {
				t.Errorf("MemorySize: got %v, want %v", got, tt.memory)
			}
			if got := jsonString(p["ImageConfig"]); got != `{"Command":["lambda"]}` {
				t.Errorf("ImageConfig: got %s, want the lambda command", got)
			}
			if got := p["Architectures"]; jsonString(got) != `["x86_64"]` {
				t.Errorf("Architectures: got %v", got)
			}
			env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
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
	t.Run("submitter targets this queue and definition", func(t *testing.T) {
		_, p := s.imageFunction(t, "mlserve submitter")
		env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		queue := jsonString(env["MLSERVE_JOB_QUEUE"])
		def := jsonString(env["MLSERVE_JOB_DEFINITION"])
		if len(s.resources("AWS::Batch::JobQueue")) != 1 || len(s.resources("AWS::Batch::JobDefinition")) != 1 {
			t.Fatal("want one job queue and one job definition")
		}
		for id := range s.resources("AWS::Batch::JobQueue") {
			if !strings.Contains(queue, id) {
				t.Errorf("MLSERVE_JOB_QUEUE %s does not name %s", queue, id)
			}
		}
		for id := range s.resources("AWS::Batch::JobDefinition") {
			if !strings.Contains(def, id) {
				t.Errorf("MLSERVE_JOB_DEFINITION %s does not name %s", def, id)
			}
		}
	})
	assert(t, "every log group has a retention", func() {
		s.tmpl.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 14})
		s.tmpl.ResourceCountIs(jsii.String("AWS::Logs::LogGroup"), jsii.Number(3))
	})
}

func TestHTTPAPI(t *testing.T) {
	s := synth(t, false)
	predict, _ := s.imageFunction(t, "mlserve predict")
	assert(t, "HTTP API", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{"ProtocolType": "HTTP"})
	})
	assert(t, "POST /predict only", func() {
		s.tmpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Route"), jsii.Number(1))
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{"RouteKey": "POST /predict"})
	})
	assert(t, "integration invokes predict", func() {
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Integration"), map[string]any{
			"IntegrationType":      "AWS_PROXY",
			"PayloadFormatVersion": "2.0",
			"IntegrationUri":       map[string]any{"Fn::GetAtt": []any{predict, "Arn"}},
		})
	})
	assert(t, "no Function URL by default", func() {
		s.tmpl.ResourceCountIs(jsii.String("AWS::Lambda::Url"), jsii.Number(0))
	})
	withURL := synth(t, true)
	assert(t, "Function URL on request, IAM auth", func() {
		withURL.tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Url"), map[string]any{"AuthType": "AWS_IAM"})
		withURL.tmpl.HasOutput(jsii.String("FunctionUrl"), map[string]any{})
	})
}

func TestBatch(t *testing.T) {
	s := synth(t, false)
	assert(t, "no NAT gateways, public subnets", func() {
		s.tmpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(0))
		s.tmpl.AllResourcesProperties(jsii.String("AWS::EC2::Subnet"), map[string]any{"MapPublicIpOnLaunch": true})
	})
	envs := s.resources("AWS::Batch::ComputeEnvironment")
	byType := map[string]string{}
	for id, p := range envs {
		cr := p["ComputeResources"].(map[string]any)
		byType[cr["Type"].(string)] = id
		if cr["MaxvCpus"] != float64(64) {
			t.Errorf("%s MaxvCpus: got %v", id, cr["MaxvCpus"])
		}
		if p["Type"] != "managed" && p["Type"] != "MANAGED" {
			t.Errorf("%s Type: got %v, want managed", id, p["Type"])
		}
	}
	if len(envs) != 2 || byType["FARGATE_SPOT"] == "" || byType["FARGATE"] == "" {
		t.Fatalf("compute environments: got %v, want one FARGATE_SPOT and one FARGATE", byType)
	}
	for _, q := range s.resources("AWS::Batch::JobQueue") {
		order := q["ComputeEnvironmentOrder"].([]any)
		got := map[float64]string{}
		for _, o := range order {
			o := o.(map[string]any)
			got[o["Order"].(float64)] = jsonString(o["ComputeEnvironment"])
		}
		if !strings.Contains(got[1], byType["FARGATE_SPOT"]) || !strings.Contains(got[2], byType["FARGATE"]) {
			t.Errorf("queue order: got %v, want Spot (%s) first", got, byType["FARGATE_SPOT"])
		}
	}

	defs := s.resources("AWS::Batch::JobDefinition")
	if len(defs) != 1 {
		t.Fatalf("job definitions: got %d", len(defs))
	}
	for _, d := range defs {
		if got := strs(d["PlatformCapabilities"]); !slices.Equal(got, []string{"FARGATE"}) {
			t.Errorf("PlatformCapabilities: got %v", got)
		}
		c := d["ContainerProperties"].(map[string]any)
		if got := strs(c["Command"]); !slices.Equal(got, JobCommand) {
			t.Errorf("Command: got %v, want %v", got, JobCommand)
		}
		if got := jsonString(c["NetworkConfiguration"]); got != `{"AssignPublicIp":"ENABLED"}` {
			t.Errorf("NetworkConfiguration: got %s", got)
		}
		if got := jsonString(c["ResourceRequirements"]); !strings.Contains(got, `"Type":"VCPU","Value":"4"`) || !strings.Contains(got, `"Type":"MEMORY","Value":"8192"`) {
			t.Errorf("ResourceRequirements: got %s, want 4 vCPU and 8192 MiB", got)
		}
		if c["JobRoleArn"] == nil || c["ExecutionRoleArn"] == nil {
			t.Errorf("want explicit job and execution roles: %v / %v", c["JobRoleArn"], c["ExecutionRoleArn"])
		}
		if got := jsonString(c["Environment"]); !strings.Contains(got, `{"Name":"MLSERVE_MODEL","Value":"`+ModelPath+`"}`) {
			t.Errorf("Environment: got %s", got)
		}
		if got := jsonString(c["LogConfiguration"]); !strings.Contains(got, `"LogDriver":"awslogs"`) {
			t.Errorf("LogConfiguration: got %s", got)
		}
		params := d["Parameters"].(map[string]any)
		for _, ref := range []string{"manifest", "output"} {
			if _, ok := params[ref]; !ok {
				t.Errorf("no default for parameter %q", ref)
			}
		}
		if got := jsonString(d["Timeout"]); got != `{"AttemptDurationSeconds":14400}` {
			t.Errorf("Timeout: got %s, want 4h", got)
		}
		rs := d["RetryStrategy"].(map[string]any)
		if rs["Attempts"] != float64(3) {
			t.Errorf("Attempts: got %v", rs["Attempts"])
		}
		// First match wins: Spot reclaims and SIGTERM (exit 3) retry, bad
		// input (exit 1) and usage (exit 2) stop at once.
		want := `[{"Action":"RETRY","OnStatusReason":"Host EC2*"},` +
			`{"Action":"RETRY","OnExitCode":"3"},` +
			`{"Action":"EXIT","OnExitCode":"1"},` +
			`{"Action":"EXIT","OnExitCode":"2"}]`
		if got := jsonString(rs["EvaluateOnExit"]); got != want {
			t.Errorf("EvaluateOnExit:\n got %s\nwant %s", got, want)
		}
	}
}

func TestIAM(t *testing.T) {
	s := synth(t, false)
	_, predict := s.imageFunction(t, "mlserve predict")
	_, submitter := s.imageFunction(t, "mlserve submitter")
	var jobRole, execRole string
	for _, d := range s.resources("AWS::Batch::JobDefinition") {
		c := d["ContainerProperties"].(map[string]any)
		jobRole = roleOf(t, c["JobRoleArn"])
		execRole = roleOf(t, c["ExecutionRoleArn"])
	}
	if jobRole == execRole {
		t.Errorf("job role and execution role are the same role %s", jobRole)
	}
	// actions returns "action on resource" strings for a role, with the
	// bucket and other references shortened to their logical ids.
	actions := func(role string) []string {
		var out []string
		for _, st := range s.statements(role) {
			if st["Effect"] != "Allow" {
				continue
			}
			res := jsonString(st["Resource"])
			for _, a := range strs(st["Action"]) {
				out = append(out, a+" "+res)
			}
		}
		return out
	}
	tests := []struct {
		name    string
		role    string
		allowed func(action, resource string) bool
		must    []string // substrings of "action resource" that must appear
	}{
		{
			name: "predict: image pull only",
			role: roleOf(t, predict["Role"]),
			allowed: func(a, _ string) bool {
				return strings.HasPrefix(a, "ecr:")
			},
		},
		{
			name: "submitter: submit to this queue, write manifests",
			role: roleOf(t, submitter["Role"]),
			allowed: func(a, r string) bool {
				switch {
				case strings.HasPrefix(a, "ecr:"):
					return true
				case a == "batch:SubmitJob":
					return strings.Contains(r, "Queue") && strings.Contains(r, "Job")
				case a == "s3:PutObject":
					return strings.Contains(r, "/"+ManifestPrefix+"*")
				case a == "batch:TagResource":
					return strings.Contains(r, ":job/*") // its condition is checked below
				}
				return false
			},
			must: []string{"batch:SubmitJob", "s3:PutObject"},
		},
		{
			name: "job: read input/ and manifests/, write output/",
			role: jobRole,
			allowed: func(a, r string) bool {
				switch a {
				case "s3:GetObject":
					return !strings.Contains(r, `"*"`) && (strings.Contains(r, "/"+InputPrefix+"*") || strings.Contains(r, "/"+OutputPrefix+"*"))
				case "s3:PutObject", "s3:AbortMultipartUpload":
					return strings.Contains(r, "/"+OutputPrefix+"*") && !strings.Contains(r, InputPrefix) && !strings.Contains(r, ManifestPrefix)
				case "s3:ListBucket":
					return !strings.Contains(r, "/*") // the bucket itself, no objects
				}
				return false
			},
			must: []string{"s3:GetObject", "s3:PutObject", "/" + InputPrefix + "*", "/" + ManifestPrefix + "*", "/" + OutputPrefix + "*"},
		},
		{
			name: "execution role: pull and logs",
			role: execRole,
			allowed: func(a, _ string) bool {
				return strings.HasPrefix(a, "ecr:") || strings.HasPrefix(a, "logs:")
			},
			must: []string{"ecr:BatchGetImage", "logs:PutLogEvents"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := actions(tt.role)
			for _, ar := range got {
				a, r, _ := strings.Cut(ar, " ")
				if !tt.allowed(a, r) {
					t.Errorf("role %s may %s", tt.role, ar)
				}
				if strings.HasSuffix(a, ":*") || a == "*" {
					t.Errorf("role %s has wildcard action %s", tt.role, ar)
				}
			}
			all := strings.Join(got, "\n")
			for _, m := range tt.must {
				if !strings.Contains(all, m) {
					t.Errorf("role %s lacks %q; has:\n%s", tt.role, m, all)
				}
			}
		})
	}
	t.Run("functions: only the basic execution policy is managed", func(t *testing.T) {
		roles := s.resources("AWS::IAM::Role")
		for _, fn := range []map[string]any{predict, submitter} {
			role := roles[roleOf(t, fn["Role"])]
			got := jsonString(role["ManagedPolicyArns"])
			if strings.Count(got, "arn:") != 1 || !strings.Contains(got, "service-role/AWSLambdaBasicExecutionRole") {
				t.Errorf("%s managed policies: %s", fn["Description"], got)
			}
		}
	})
	t.Run("submitter tags only the jobs it submits", func(t *testing.T) {
		found := false
		for _, st := range s.statements(roleOf(t, submitter["Role"])) {
			if slices.Contains(strs(st["Action"]), "batch:TagResource") {
				found = true
				if got := jsonString(st["Condition"]); got != `{"StringEquals":{"batch:CreateAction":"SubmitJob"}}` {
					t.Errorf("TagResource condition: got %s", got)
				}
				if got := jsonString(st["Resource"]); !strings.Contains(got, ":job/*") {
					t.Errorf("TagResource resource: got %s, want jobs", got)
				}
			}
		}
		if !found {
			t.Error("no batch:TagResource statement: SubmitJob with tags would be denied")
		}
	})
	t.Run("submitter: SubmitJob names exactly the queue and definition", func(t *testing.T) {
		for _, st := range s.statements(roleOf(t, submitter["Role"])) {
			if !slices.Contains(strs(st["Action"]), "batch:SubmitJob") {
				continue
			}
			res := st["Resource"].([]any)
			if len(res) != 2 {
				t.Fatalf("SubmitJob resources: got %s", jsonString(res))
			}
			q, d := jsonString(res[0]), jsonString(res[1])
			for id := range s.resources("AWS::Batch::JobQueue") {
				if !strings.Contains(q, id) {
					t.Errorf("SubmitJob resource %s is not queue %s", q, id)
				}
			}
			for id := range s.resources("AWS::Batch::JobDefinition") {
				if !strings.Contains(d, id) {
					t.Errorf("SubmitJob resource %s is not definition %s", d, id)
				}
			}
		}
	})
}

func TestOutputs(t *testing.T) {
	s := synth(t, false)
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

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestImageAsset checks that synth stages the repository as one Docker
// asset without Docker, and leaves out what the image does not need.
func TestImageAsset(t *testing.T) {
	s := synth(t, false)
	raw, err := os.ReadFile(filepath.Join(s.outdir, "MLServe.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DockerImages map[string]struct {
			Source struct {
				Directory         string `json:"directory"`
				DockerBuildTarget string `json:"dockerBuildTarget"`
				Platform          string `json:"platform"`
			} `json:"source"`
		} `json:"dockerImages"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
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
