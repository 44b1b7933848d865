package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/mlserve/mlserve/internal/envconfig"
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
	envErr      error // a bad MLSERVE_EXACT_RESIZE, reported by loadClassifier
	// Profile prints per-op engine timings to stderr (classify --profile).
	Profile bool
}

func (o *modelOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Model, "model", "", "model: a path, file://, https:// or s3:// URL (env MLSERVE_MODEL; default: the cached resnet50-v1-12)")
	fs.StringVar(&o.Labels, "labels", envconfig.String("MLSERVE_LABELS"), "class names file, one per line (env MLSERVE_LABELS)")
	maxPixels, _ := envconfig.Int("MLSERVE_MAX_PIXELS")
	fs.IntVar(&o.MaxPixels, "max-pixels", maxPixels, "largest image in pixels, checked before decoding (env MLSERVE_MAX_PIXELS)")
	exact, err := strconv.ParseBool(envconfig.String("MLSERVE_EXACT_RESIZE"))
	if err != nil {
		o.envErr = usageErrorf("MLSERVE_EXACT_RESIZE=%q: want true or false", envconfig.String("MLSERVE_EXACT_RESIZE"))
	}
	fs.BoolVar(&o.ExactResize, "exact-resize", exact, "decode JPEGs at full size before resizing, as torchvision does, instead of at the DCT reduction the resize needs (env MLSERVE_EXACT_RESIZE)")
}

// openURL reads s3:// model URLs for modelstore.
func openURL(ctx context.Context, uri string) (io.ReadCloser, error) {
	return s3io.ReadURL(ctx, uri)
}

// loadClassifier resolves the model (flag, MLSERVE_MODEL, cache), loads it
// and its labels. pull lets it download the default model with a progress
// bar on stdio.Err (the CLI on a terminal).
func loadClassifier(ctx context.Context, o modelOptions, stdio IO, pull bool) (*infer.Classifier, error) {
	if o.envErr != nil {
		return nil, o.envErr
	}
	man := models.Default()
	req := modelstore.Request{
		Flag:     o.Model,
		Env:      envconfig.String("MLSERVE_MODEL"),
		CacheDir: envconfig.String("MLSERVE_CACHE_DIR"),
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
