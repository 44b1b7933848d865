package stack

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	// findings are the AwsSolutions errors and warnings left unsuppressed.
	findings []string
	// report is the rows of AwsSolutions-MLServe-NagReport.csv.
	report [][]string
}

// variants are the option combinations the tests synthesize, each once
// (jsii runs Node.js: a synth takes seconds). Every option appears in at
// least one of them, and every one passes the AwsSolutions rules.
var variants = map[string]func(*Props){
	"default": func(*Props) {},
	// arm64, JWT auth, CORS, a Function URL, the sweep schedule and an
	// alarm topic.
	"arm64-jwt": func(p *Props) {
		p.AlarmTopicARN = "arn:aws:sns:us-east-1:123456789012:ops-alerts"
		p.Architecture = ARM64
		p.Auth = AuthJWT
		p.JWTIssuer = "https://issuer.example.com/"
		p.JWTAudience = []string{"mlserve", "mlserve-web"}
		p.CORSOrigins = []string{"https://app.example.com"}
		p.FunctionURL = true
		p.SweepSchedule = "rate(1 day)"
	},
	// public on purpose, no flow logs, buckets deleted with the stack, no
	// reserved concurrency and no direct bursts.
	"public": func(p *Props) {
		p.Auth = AuthPublic
		p.NoFlowLogs = true
		p.DestroyBucket = true
		p.PredictConcurrency = -1
		p.SubmitterConcurrency = -1
		p.DirectMax = -1
	},
}

var (
	synthMu    sync.Mutex
	synthCache = map[string]*synthed{}
)

// synth builds the stack once per variant into a temp outdir, with the
// AwsSolutions pack applied (asset staging copies the image directory
// there; no Docker involved).
func synth(t *testing.T, variant string) *synthed {
	t.Helper()
	synthMu.Lock()
	defer synthMu.Unlock()
	if s, ok := synthCache[variant]; ok {
		return s
	}
	mod, ok := variants[variant]
	if !ok {
		t.Fatalf("no variant %q", variant)
	}
	outdir, err := os.MkdirTemp("", "cdk-test-*")
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	props := Defaults()
	props.ImageDir = repoRoot(t)
	mod(&props)
	st, err := New(app, "MLServe", props)
	if err != nil {
		t.Fatal(err)
	}
	Nag(app)
	s := synthed{outdir: outdir}
	assert(t, "synth", func() {
		app.Synth(nil)
		s.tmpl = assertions.Template_FromStack(st, nil)
		ann := assertions.Annotations_FromStack(st)
		rule := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))
		for _, m := range append(*ann.FindError(jsii.String("*"), rule), *ann.FindWarning(jsii.String("*"), rule)...) {
			s.findings = append(s.findings, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
		}
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
	// cdk-nag names the report AwsSolutions-<stage>-<stack>-NagReport.csv
	// (an empty stage outside a Stage).
	reports, _ := filepath.Glob(filepath.Join(outdir, "AwsSolutions-*MLServe-NagReport.csv"))
	if len(reports) != 1 {
		t.Errorf("nag reports in %s: got %v, want one", outdir, reports)
	} else if f, err := os.Open(reports[0]); err != nil {
		t.Error(err)
	} else {
		s.report, err = csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Errorf("nag report: %v", err)
		}
	}
	synthCache[variant] = &s
	return &s
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

// ownLogs reports whether action a on resource r is writing the log group
// whose logical id starts with group.
func ownLogs(a, r, group string) bool {
	return (a == "logs:CreateLogStream" || a == "logs:PutLogEvents") && strings.Contains(r, `"`+group)
}

// onlyPrefixes reports whether the resources r are object wildcards under
// the given prefixes and nothing else.
func onlyPrefixes(r string, prefixes ...string) bool {
	var res []any
	if err := json.Unmarshal([]byte(r), &res); err != nil {
		res = []any{json.RawMessage(r)}
	}
	for _, x := range res {
		js := jsonString(x)
		ok := false
		for _, p := range prefixes {
			if strings.HasSuffix(js, `"/`+p+`*"]]}`) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
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

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// linked returns the logical ids of the two resources of typ where the
// first refers to the second through ref (nil when a resource has no such
// reference): a queue and its DLQ, a bucket and its log bucket.
func (s *synthed) linked(t *testing.T, typ, what string, ref func(props map[string]any) any) (from, to string) {
	t.Helper()
	all := s.resources(typ)
	if len(all) != 2 {
		t.Fatalf("%s: got %d, want %s", typ, len(all), what)
	}
	for id, p := range all {
		if r := ref(p); r != nil {
			from, to = id, roleOf(t, r)
		}
	}
	if from == "" || from == to || all[to] == nil {
		t.Fatalf("want %s, got %s", what, jsonString(all))
	}
	return from, to
}

// namesOnly fails unless the JSON of v names the one resource of typ.
func (s *synthed) namesOnly(t *testing.T, what string, v any, typ string) {
	t.Helper()
	all := s.resources(typ)
	if len(all) != 1 {
		t.Fatalf("%s: got %d, want one", typ, len(all))
	}
	for id := range all {
		if js := jsonString(v); !strings.Contains(js, id) {
			t.Errorf("%s %s does not name %s", what, js, id)
		}
	}
}
