package stack

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

func TestBatch(t *testing.T) {
	s := synth(t, "default")
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
