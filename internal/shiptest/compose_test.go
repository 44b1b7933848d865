package shiptest

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	composecli "github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mlserve/mlserve/internal/cli"
	"github.com/mlserve/mlserve/internal/config"
)

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := composecli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		composecli.WithWorkingDirectory(root),
		composecli.WithProfiles([]string{"batch"}), // the one-shot services too
		composecli.WithEnv(nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

// checkCommand parses args the way `mlserve args...` would and reports an
// error unless they name a runnable subcommand with valid flags and
// arguments. Nothing runs.
func checkCommand(args []string) (string, error) {
	root := cli.NewRootCmd(cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	cmd, rest, err := root.Find(args)
	if err != nil {
		return "", err
	}
	if cmd == root || !cmd.Runnable() {
		return "", fmt.Errorf("%q is not an mlserve subcommand", strings.Join(args, " "))
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return cmd.CommandPath(), fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return cmd.CommandPath(), fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return cmd.CommandPath(), fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return cmd.CommandPath(), fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return cmd.CommandPath(), nil
}

func TestCheckCommand(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
	}{
		{[]string{"serve"}, true},
		{[]string{"serve", "--addr", ":8080"}, true},
		{[]string{"serve", "--no-such-flag"}, false},
		{[]string{"serve", "--max-batch", "many"}, false},
		{[]string{"no-such-command"}, false},
		{[]string{}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			_, err := checkCommand(tt.args)
			if (err == nil) != tt.ok {
				t.Errorf("checkCommand(%q) = %v, want ok=%v", tt.args, err, tt.ok)
			}
		})
	}
}

// isMlserve reports whether a service runs the mlserve image.
func isMlserve(s types.ServiceConfig) bool {
	return s.Build != nil || strings.HasPrefix(s.Image, "mlserve:")
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	stages := readDockerfile(t)
	want := map[string]string{ // service -> mlserve subcommand
		"serve":  "mlserve serve",
		"lambda": "mlserve lambda",
		"batch":  "mlserve batch",
	}
	seen := map[string]bool{}
	for name, s := range p.Services {
		if !isMlserve(s) {
			continue
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			path, err := checkCommand(s.Command)
			if err != nil {
				t.Fatalf("command %q: %v", s.Command, err)
			}
			if w, ok := want[name]; ok && path != w {
				t.Errorf("runs %s, want %s", path, w)
			}
			if s.Build != nil {
				if s.Build.Target == "" {
					t.Errorf("build: no target (the Dockerfile's last stage is the runtime image; name it)")
				} else {
					findStage(t, stages, s.Build.Target)
				}
			}
			if len(s.Entrypoint) > 0 && !slices.Contains(s.Entrypoint, "/mlserve") {
				t.Errorf("entrypoint %q does not run /mlserve", s.Entrypoint)
			}
			for k := range s.Environment {
				if strings.HasPrefix(k, "MLSERVE_") && !config.Declared(k) {
					t.Errorf("environment %s is not declared in internal/config", k)
				}
			}
		})
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no mlserve service %q", name)
		}
	}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("service %s publishes %s:%d on %q, every interface: bind it to 127.0.0.1", name, port.Published, port.Target, port.HostIP)
			}
		}
	}
	s3, ok := p.Services["s3"]
	if !ok || !strings.HasPrefix(s3.Image, "versity/versitygw:") {
		t.Errorf("want an s3 service running versitygw, got %q", s3.Image)
	}
}
