package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/modelstore"
	"github.com/mlserve/mlserve/internal/onnx"
)

// modelInfoOptions are the flags of `mlserve model info`.
type modelInfoOptions struct {
	IO
	Model string // a path or URL; "" means the resolved default model
	JSON  bool
}

func newModelInfoCmd(stdio IO) *cobra.Command {
	opts := modelInfoOptions{IO: stdio}
	cmd := &cobra.Command{
		Use:   "info [model]",
		Short: "Describe a model file: inputs, outputs and operators",
		Example: `  # describe the cached default model
  $ mlserve model info

  # describe another model file, as JSON
  $ mlserve model info --json ./resnet50-v2-7.onnx`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("model info takes at most one model, got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Model = args[0]
			}
			return runModelInfo(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the description as JSON")
	return cmd
}

// runModelInfo describes a model file without loading it into the engine.
func runModelInfo(ctx context.Context, opts modelInfoOptions) error {
	env := opts.env()
	path, err := modelstore.Resolve(ctx, modelstore.Request{
		Flag:     opts.Model,
		Env:      env.Model,
		CacheDir: cmp.Or(env.CacheDir, modelstore.DefaultCacheDir(env.OnLambda())),
		Manifest: modelManifest(),
		OpenURL:  openURL,
	})
	if err != nil {
		return err
	}
	d, err := onnx.Inspect(path)
	if err != nil {
		return err
	}
	runs, why := willRun(path, d)
	if opts.JSON {
		enc := json.NewEncoder(opts.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Path string `json:"path"`
			*onnx.Description
			Runs    bool     `json:"runs"`
			Missing []string `json:"missing_operators"`
			Reason  string   `json:"reason,omitempty"`
		}{path, d, runs, append([]string{}, infer.Missing(d)...), why})
	}
	tw := tabwriter.NewWriter(opts.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "file:\t%s (%.1f MiB)\n", path, float64(d.Bytes)/(1<<20))
	fmt.Fprintf(tw, "ir version:\t%d\n", d.IRVersion)
	if d.Producer != "" {
		fmt.Fprintf(tw, "producer:\t%s\n", d.Producer)
	}
	fmt.Fprintf(tw, "opset:\t%d\n", d.Opset())
	for _, in := range d.Inputs {
		fmt.Fprintf(tw, "input:\t%s %s [%s]\n", in.Name, in.Type, strings.Join(in.Shape, ","))
	}
	for _, out := range d.Outputs {
		fmt.Fprintf(tw, "output:\t%s %s [%s]\n", out.Name, out.Type, strings.Join(out.Shape, ","))
	}
	fmt.Fprintf(tw, "parameters:\t%d\n", d.Parameters)
	var ops []string
	for _, name := range d.OperatorNames() {
		ops = append(ops, fmt.Sprintf("%s x%d", name, d.Operators[name]))
	}
	fmt.Fprintf(tw, "operators:\t%d nodes: %s\n", d.Nodes, strings.Join(ops, ", "))
	if runs {
		fmt.Fprintf(tw, "runs:\tyes\n")
	} else {
		fmt.Fprintf(tw, "runs:\tno: %s\n", why)
	}
	return tw.Flush()
}

// willRun says whether the engine runs the model: every operator must be
// implemented (all missing ones are named), and then loading it must work
// (attributes, shapes).
func willRun(path string, d *onnx.Description) (bool, string) {
	if missing := infer.Missing(d); len(missing) > 0 {
		return false, "lacks the operators " + strings.Join(missing, ", ")
	}
	if _, err := infer.LoadFile(path, infer.Options{OptionalLabels: true}); err != nil {
		return false, err.Error()
	}
	return true, ""
}
