package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/modelstore"
	"github.com/mlserve/mlserve/internal/s3io"
	"github.com/mlserve/mlserve/models"
)

// modelOptions are the flags every mode shares to choose and load a model.
type modelOptions struct {
	Model     string
	Labels    string
	MaxPixels int
	// ExactResize decodes JPEGs at full size (imageprep.Config.ExactResize).
	ExactResize bool
	// Profile prints per-op engine timings to stderr (classify --profile).
	Profile bool
	// Lanes is MLSERVE_LANES (infer.Options.Lanes; 0: the mode's default).
	Lanes int
	// EnvModel and CacheDir are MLSERVE_MODEL and MLSERVE_CACHE_DIR;
	// OnLambda says the cache must live under /tmp.
	EnvModel, CacheDir string
	OnLambda           bool
}

func (o *modelOptions) addFlags(fs *pflag.FlagSet, env *config.Config) {
	o.EnvModel, o.CacheDir, o.OnLambda, o.Lanes = env.Model, env.CacheDir, env.OnLambda(), env.Lanes
	fs.StringVar(&o.Model, "model", "", "model: a path, file://, https:// or s3:// URL (env MLSERVE_MODEL; default: the cached resnet50-v1-12)")
	fs.StringVar(&o.Labels, "labels", env.Labels, "class names file, one per line (env MLSERVE_LABELS)")
	fs.IntVar(&o.MaxPixels, "max-pixels", env.MaxPixels, "largest image in pixels, checked before decoding (env MLSERVE_MAX_PIXELS)")
	fs.BoolVar(&o.ExactResize, "exact-resize", env.ExactResize, "decode JPEGs at full size before resizing, as torchvision does, instead of at the DCT reduction the resize needs (env MLSERVE_EXACT_RESIZE)")
}

// throughput returns o with MLSERVE_LANES's default for the modes that run
// many images at once (batch, serve): GOMAXPROCS lanes, which beat one run
// on every core there (BENCHMARKS.md, issue 12, "Lanes vs threads").
func (o modelOptions) throughput() modelOptions {
	if o.Lanes == 0 {
		o.Lanes = runtime.GOMAXPROCS(0)
	}
	return o
}

// modelName is the model's source for logs.
func (o modelOptions) modelName() string { return cmp.Or(o.Model, o.EnvModel, "(default)") }

// cacheDir is the model cache: MLSERVE_CACHE_DIR, else the default.
func (o modelOptions) cacheDir() string {
	return cmp.Or(o.CacheDir, modelstore.DefaultCacheDir(o.OnLambda))
}

// openURL reads s3:// model URLs for modelstore.
func openURL(ctx context.Context, uri string) (io.ReadCloser, error) {
	return s3io.ReadURL(ctx, uri)
}

// loadClassifier resolves the model (flag, MLSERVE_MODEL, cache), loads it
// and its labels. pull lets it download the default model with a progress
// bar on stdio.Err (the CLI on a terminal).
func loadClassifier(ctx context.Context, o modelOptions, stdio IO, pull bool) (*infer.Classifier, error) {
	man := models.Default()
	req := modelstore.Request{
		Flag:     o.Model,
		Env:      o.EnvModel,
		CacheDir: o.cacheDir(),
		Manifest: man,
		Pull:     pull,
		OpenURL:  openURL,
	}
	if pull {
		req.Progress = stdio.Err
	}
	path, err := modelstore.Resolve(ctx, req)
	if err != nil {
		return nil, err
	}
	opts := infer.Options{ // Name: LoadFile names the model after its file
		Lanes: o.Lanes,
		Preprocess: imageprep.Config{
			ResizeShorter: man.ResizeSize,
			Crop:          man.InputSize,
			Mean:          man.Mean,
			Std:           man.Std,
			MaxPixels:     o.MaxPixels,
			ExactResize:   o.ExactResize,
		},
	}
	if o.Profile {
		opts.Profile = stdio.Err
	}
	switch {
	case o.Labels != "":
		f, err := os.Open(o.Labels)
		if err != nil {
			return nil, fmt.Errorf("labels: %w", err)
		}
		defer f.Close()
		if opts.Labels, err = models.ReadLabels(f); err != nil {
			return nil, fmt.Errorf("labels %s: %w", o.Labels, err)
		}
	default:
		// ImageNet names fit any 1000-class model; the engine drops them
		// for a model with another number of classes.
		opts.Labels = models.ImageNetLabels()
		opts.OptionalLabels = true
	}
	return infer.LoadFile(path, opts)
}
