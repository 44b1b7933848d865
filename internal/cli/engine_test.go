package cli

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
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
			t.Setenv("MLSERVE_EXACT_RESIZE", tt.env)
			var o modelOptions
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			o.addFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if o.ExactResize != tt.want {
				t.Errorf("ExactResize %v, want %v", o.ExactResize, tt.want)
			}
			if tt.bad {
				_, err := loadClassifier(context.Background(), o, IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}, false)
				if err == nil || exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "MLSERVE_EXACT_RESIZE") {
					t.Errorf("loadClassifier: %v, want a usage error naming MLSERVE_EXACT_RESIZE", err)
				}
			}
		})
	}
}
