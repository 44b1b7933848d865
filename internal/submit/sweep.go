package submit

import (
	"context"
	"fmt"
	"strings"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/s3io"
)

// Lister lists a store's objects; s3io.Store implements it.
type Lister interface {
	List(ctx context.Context, prefix string, fn func(s3io.Object) error) error
}

// Missing returns the image keys under inputPrefix in bucket that have no
// result yet: no outputPrefix/<key relative to inputPrefix>.json, or one
// older than the input (uploaded again since). Two listings, no reads: the
// batch job's ETag check settles the rest. bucket lists the bucket's root.
func Missing(ctx context.Context, bucket Lister, inputPrefix, outputPrefix string) ([]string, error) {
	if strings.HasPrefix(outputPrefix, inputPrefix) {
		return nil, fmt.Errorf("output prefix %q is inside input prefix %q", outputPrefix, inputPrefix)
	}
	done := map[string]s3io.Object{}
	err := bucket.List(ctx, outputPrefix, func(o s3io.Object) error {
		if rel, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, outputPrefix), ".json"); ok {
			done[rel] = o
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list results %s: %w", outputPrefix, err)
	}
	var keys []string
	err = bucket.List(ctx, inputPrefix, func(o s3io.Object) error {
		if strings.HasSuffix(o.Key, "/") || !imageprep.HasImageExt(o.Key) {
			return nil
		}
		out, ok := done[strings.TrimPrefix(o.Key, inputPrefix)]
		if !ok || out.ModTime.Before(o.ModTime) {
			keys = append(keys, o.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list inputs %s: %w", inputPrefix, err)
	}
	return keys, nil
}
