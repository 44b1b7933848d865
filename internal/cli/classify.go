package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/tty"
)

// classifyOptions are the flags of `mlserve classify`.
type classifyOptions struct {
	IO
	modelOptions
	Args      []string
	TopK      int
	JSON      bool
	BatchSize int
	Remote    remoteOptions // --endpoint: classify_remote.go
}

func newClassifyCmd(stdio IO) *cobra.Command {
	opts := classifyOptions{IO: stdio}
	env := stdio.env()
	cmd := &cobra.Command{
		Use:   "classify <image>...",
		Short: "Print the top classes of images",
		Long: `Classify images with the model and print the most likely classes of each.

Arguments are image files, directories (every image file below them) or - for
standard input. JPEG, PNG, GIF, WebP, BMP and TIFF are read; the format comes
from the file's bytes, not its name. Images go through the engine in batches.
An image that cannot be read gets an error and a non-zero exit status, and the
others still get their results.`,
		Example: `  # top-5 classes of a photo
  $ mlserve classify photo.jpg

  # JSON Lines, one object per image, for every image in a folder
  $ mlserve classify --json --top-k 3 ./photos

  # a custom ONNX classifier with its own class names
  $ mlserve classify --model my.onnx --labels my-classes.txt photo.png

  # from standard input
  $ curl -s https://example.com/cat.jpg | mlserve classify -

  # through a deployed endpoint (SigV4 with the default AWS credentials)
  $ mlserve classify --endpoint https://abc123.execute-api.us-east-1.amazonaws.com ./photos`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if err := api.CheckTopK(opts.TopK); err != nil {
				return usageErrorf("--top-k: %w", err)
			}
			if opts.BatchSize < 1 {
				return usageErrorf("--batch-size %d: want at least 1", opts.BatchSize)
			}
			return runClassify(cmd.Context(), opts)
		},
	}
	opts.modelOptions.addFlags(cmd.Flags(), env)
	cmd.Flags().IntVarP(&opts.TopK, "top-k", "k", env.TopK, "number of classes per image, 1 to 1000 (env MLSERVE_TOP_K)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON object per image (JSON Lines)")
	cmd.Flags().IntVar(&opts.BatchSize, "batch-size", 8, "images per engine batch")
	cmd.Flags().BoolVar(&opts.modelOptions.Profile, "profile", env.Profile, "print time and GFLOP/s per engine op to stderr (env MLSERVE_PROFILE=1)")
	opts.Remote.addFlags(cmd.Flags(), env)
	return cmd
}

// expandArgs turns arguments into input names: directories are walked for
// image files (sorted), "-" stays as standard input.
func expandArgs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if a == "-" {
			out = append(out, a)
			continue
		}
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a) // a missing file is reported with the others
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && imageprep.HasImageExt(p) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read directory: %w", err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no image files", a)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

func runClassify(ctx context.Context, opts classifyOptions) error {
	names, err := expandArgs(opts.Args)
	if err != nil {
		return usageErrorf("%w", err)
	}
	stdin := 0
	for _, n := range names {
		if n == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return usageErrorf("- (standard input) given %d times", stdin)
	}
	if opts.Remote.Endpoint != "" {
		return runRemoteClassify(ctx, opts, names)
	}
	clf, err := loadClassifier(ctx, opts.modelOptions, opts.IO, tty.Is(opts.Err))
	if err != nil {
		return err
	}
	rep := &reporter{opts: opts}
	for start := 0; start < len(names); start += opts.BatchSize {
		batch := names[start:min(start+opts.BatchSize, len(names))]
		images := make([][]byte, len(batch))
		readErrs := make([]error, len(batch))
		for i, name := range batch {
			images[i], readErrs[i] = readInput(name, opts.In)
		}
		results := clf.Classify(ctx, images, opts.TopK)
		for i, name := range batch {
			r := api.FromEngine(results[i])
			if readErrs[i] != nil {
				r = api.Failed(clf.Info().Name, api.CodeReadFailed, readErrs[i].Error())
			}
			if err := rep.report(name, len(images[i]), r); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return &InterruptedError{Err: err}
		}
	}
	return rep.done(len(names))
}

// reporter prints each image's result (its error also on stderr) and
// counts the failures: local and remote classify print the same.
type reporter struct {
	opts   classifyOptions
	failed int
}

func (p *reporter) report(name string, size int, r api.Result) error {
	r.Source = &api.Source{URI: name, Size: int64(size)}
	if r.Error != nil {
		p.failed++
		fmt.Fprintf(p.opts.Err, "mlserve: %s: %s\n", name, r.Error.Message)
	}
	return printResult(p.opts.Out, r, p.opts.JSON)
}

func (p *reporter) done(total int) error {
	if p.failed > 0 {
		return fmt.Errorf("%d of %d images failed", p.failed, total)
	}
	return nil
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		if stdin == nil {
			return nil, errors.New("no standard input")
		}
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

func printResult(w io.Writer, r api.Result, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if r.Error != nil {
		return nil // reported on stderr
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s", r.Source.URI)
	if r.Image != nil {
		fmt.Fprintf(&b, " (%dx%d %s)", r.Image.Width, r.Image.Height, r.Image.Format)
	}
	b.WriteString("\n")
	for _, p := range r.Predictions {
		label := p.Label
		if label == "" {
			label = fmt.Sprintf("class %d", p.ClassID)
		}
		fmt.Fprintf(&b, "  %d. %6.2f%%  %s (%d)\n", p.Rank, 100*p.Probability, label, p.ClassID)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
