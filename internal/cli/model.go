package cli

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/modelstore"
	"github.com/mlserve/mlserve/models"
)

// modelManifest is the model `model pull` fetches; tests replace it.
var modelManifest = models.Default

func newModelCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model <command>",
		Short: "Fetch and inspect model files",
	}
	cmd.AddCommand(newModelPullCmd(stdio), newModelInfoCmd(stdio))
	return cmd
}

// modelPullOptions are the flags of `mlserve model pull`.
type modelPullOptions struct {
	IO
	URL   string // overrides the manifest's URL (a mirror)
	Dir   string // "" means MLSERVE_CACHE_DIR, else modelstore.DefaultCacheDir
	Force bool
}

func newModelPullCmd(stdio IO) *cobra.Command {
	opts := modelPullOptions{IO: stdio}
	cmd := &cobra.Command{
		Use:   "pull",
		Short: "Download the default model, resnet50-v1-12, into the cache",
		Long: `Download the default model, resnet50-v1-12 from the ONNX model zoo, into the
cache directory, check its size and sha256, and print its path.

An interrupted download resumes where it stopped when run again. A copy
already in the cache is verified and kept unless --force is given.`,
		Example: `  # download resnet50-v1-12 into the cache and print its path
  $ mlserve model pull

  # download from a mirror (it must serve the same file) into ./models
  $ mlserve model pull --url https://mirror.example.com/resnet50-v1-12.onnx --dir ./models

  # replace the cached copy
  $ mlserve model pull --force`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("model pull takes no arguments, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runModelPull(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.URL, "url", "", "download from this URL instead of the manifest's (a mirror serving the same file)")
	fs.StringVar(&opts.Dir, "dir", "", "directory to store the model in (env MLSERVE_CACHE_DIR; default: the user cache dir + /mlserve)")
	fs.BoolVar(&opts.Force, "force", false, "download again even when a verified copy is cached")
	return cmd
}

// runModelPull downloads the default model and prints its path.
func runModelPull(ctx context.Context, opts modelPullOptions) error {
	m := modelManifest()
	env := opts.env()
	dir := cmp.Or(opts.Dir, env.CacheDir, modelstore.DefaultCacheDir(env.OnLambda()))
	url := m.URL
	if opts.URL != "" {
		url = opts.URL
	}
	dest := filepath.Join(dir, m.File)
	err := modelstore.Pull(ctx, modelstore.PullOptions{
		URL:      url,
		Size:     m.Size,
		SHA256:   m.SHA256,
		Dest:     dest,
		Progress: opts.Err,
		Force:    opts.Force,
	})
	if err != nil {
		if ctx.Err() != nil {
			return &InterruptedError{Err: fmt.Errorf("model pull: %w", err)}
		}
		return fmt.Errorf("model pull: %w", err)
	}
	fmt.Fprintln(opts.Out, dest)
	return nil
}
