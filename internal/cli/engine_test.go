package cli

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/mlserve/mlserve/internal/config"
)

func TestExactResizeFlag(t *testing.T) {
	tests := []struct {
		env  string
		args []string
		want bool
		bad  bool
	}{
		{"", nil, false, false},
		{"true", nil, true, false},
		{"false", []string{"--exact-resize"}, true, false},
		{"true", []string{"--exact-resize=false"}, false, false},
		{"sometimes", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.env+strings.Join(tt.args, " "), func(t *testing.T) {
			env, err := config.Load(func(k string) (string, bool) {
				if k == "MLSERVE_EXACT_RESIZE" && tt.env != "" {
					return tt.env, true
				}
				return "", false
			})
			if tt.bad {
				if err == nil || exitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), "MLSERVE_EXACT_RESIZE") {
					t.Errorf("config.Load: %v, want a usage error naming MLSERVE_EXACT_RESIZE", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var o modelOptions
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			o.addFlags(fs, env)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if o.ExactResize != tt.want {
				t.Errorf("ExactResize %v, want %v", o.ExactResize, tt.want)
			}
		})
	}
}
