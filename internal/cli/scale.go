package cli

import (
	"context"

	"github.com/spf13/pflag"

	batchrun "github.com/mlserve/mlserve/internal/batch"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/lambdaadapter"
)

// scaleOptions are the Lambda submitter's settings for the batch path at
// scale (array sizing, direct bursts, sweeps).
type scaleOptions struct {
	ImagesPerChild int
	DirectMax      int
	Bucket         string
}

func (o *scaleOptions) addFlags(fs *pflag.FlagSet, env *config.Config) {
	fs.IntVar(&o.ImagesPerChild, "images-per-child", env.ImagesPerChild, "images per AWS Batch array child (env MLSERVE_IMAGES_PER_CHILD)")
	fs.IntVar(&o.DirectMax, "direct-max", env.DirectMax, "classify windows of at most this many uploads in the function; 0 never (env MLSERVE_DIRECT_MAX)")
	fs.StringVar(&o.Bucket, "bucket", env.Bucket, `bucket of {"sweep"} events that name none (env MLSERVE_BUCKET)`)
}

func (o *scaleOptions) check() error {
	switch {
	case o.ImagesPerChild < 1:
		return usageErrorf("--images-per-child %d: want at least 1", o.ImagesPerChild)
	case o.DirectMax < 0:
		return usageErrorf("--direct-max %d: want 0 (off) or more", o.DirectMax)
	}
	return nil
}

// config builds the handler's scale settings. The model for direct bursts
// is clf when the function loaded one at init, else it is loaded on first
// need (the handler keeps it).
func (o scaleOptions) config(_ context.Context, clf lambdaadapter.Classifier, mo modelOptions, stdio IO) lambdaadapter.ScaleConfig {
	return lambdaadapter.ScaleConfig{
		ImagesPerChild: o.ImagesPerChild,
		DirectMax:      o.DirectMax,
		Bucket:         o.Bucket,
		LoadModel: func(ctx context.Context) (batchrun.Classifier, error) {
			if c, ok := clf.(*infer.Classifier); ok && c != nil {
				return c, nil
			}
			return loadClassifier(ctx, mo, stdio, false)
		},
	}
}
