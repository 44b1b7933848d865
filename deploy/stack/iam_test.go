package stack

import (
	"slices"
	"strings"
	"testing"
)

// jobRoles returns the logical ids of the job definition's job role and
// execution role.
func (s *synthed) jobRoles(t *testing.T) (job, exec string) {
	t.Helper()
	for _, d := range s.resources("AWS::Batch::JobDefinition") {
		c := d["ContainerProperties"].(map[string]any)
		job, exec = roleOf(t, c["JobRoleArn"]), roleOf(t, c["ExecutionRoleArn"])
	}
	return job, exec
}

// actions returns "action resource-JSON" strings for what a role may do.
func (s *synthed) actions(role string) []string {
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

func TestIAM(t *testing.T) {
	s := synth(t, "default")
	_, predict := s.imageFunction(t, "mlserve predict")
	_, submitter := s.imageFunction(t, "mlserve submitter")
	jobRole, execRole := s.jobRoles(t)
	if jobRole == execRole {
		t.Errorf("job role and execution role are the same role %s", jobRole)
	}
	tests := []struct {
		name    string
		role    string
		allowed func(action, resource string) bool
		must    []string // substrings of "action resource" that must appear
	}{
		{
			name: "predict: its logs, image pull, and get and put under uploads/ only",
			role: roleOf(t, predict["Role"]),
			allowed: func(a, r string) bool {
				switch a {
				case "s3:GetObject", "s3:PutObject":
					return onlyPrefixes(r, UploadsPrefix)
				}
				return strings.HasPrefix(a, "ecr:") || ownLogs(a, r, "PredictLogs")
			},
			must: []string{"logs:PutLogEvents", "s3:GetObject", "s3:PutObject", "/" + UploadsPrefix + "*"},
		},
		{
			name: "submitter: consume the queue, read uploads and results, write manifests and results, submit",
			role: roleOf(t, submitter["Role"]),
			allowed: func(a, r string) bool {
				switch {
				case strings.HasPrefix(a, "ecr:"), ownLogs(a, r, "SubmitterLogs"):
					return true
				case a == "batch:SubmitJob":
					return strings.Contains(r, "Queue") && strings.Contains(r, "Job")
				case a == "s3:GetObject":
					return onlyPrefixes(r, InputPrefix, OutputPrefix)
				case a == "s3:PutObject", a == "s3:AbortMultipartUpload":
					return onlyPrefixes(r, ManifestPrefix, OutputPrefix)
				case a == "s3:ListBucket":
					return !strings.Contains(r, "/*") // the bucket itself, no objects
				case a == "batch:TagResource":
					return strings.Contains(r, ":job/*") // its condition is checked below
				case strings.HasPrefix(a, "sqs:"):
					// The event source mapping's grant: the ingest queue only.
					return strings.Contains(r, `"Ingest`) && !strings.Contains(r, "DeadLetters") &&
						slices.Contains([]string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
							"sqs:GetQueueAttributes", "sqs:GetQueueUrl"}, a)
				}
				return false
			},
			must: []string{"batch:SubmitJob", "s3:PutObject", "/" + ManifestPrefix + "*", "s3:GetObject", "/" + InputPrefix + "*",
				"s3:ListBucket", "sqs:ReceiveMessage", "sqs:DeleteMessage"},
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
			got := s.actions(tt.role)
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
}

// TestFunctionRoles: no managed policies, and the submitter's Batch
// permissions name exactly what it submits to.
func TestFunctionRoles(t *testing.T) {
	s := synth(t, "default")
	_, predict := s.imageFunction(t, "mlserve predict")
	_, submitter := s.imageFunction(t, "mlserve submitter")
	t.Run("functions: no managed policies", func(t *testing.T) {
		roles := s.resources("AWS::IAM::Role")
		for _, fn := range []map[string]any{predict, submitter} {
			if got, ok := roles[roleOf(t, fn["Role"])]["ManagedPolicyArns"]; ok {
				t.Errorf("%s managed policies: %s", fn["Description"], jsonString(got))
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
			s.namesOnly(t, "SubmitJob resource", res[0], "AWS::Batch::JobQueue")
			s.namesOnly(t, "SubmitJob resource", res[1], "AWS::Batch::JobDefinition")
		}
	})
}
