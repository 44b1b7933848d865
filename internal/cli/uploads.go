package cli

import (
	"context"
	"fmt"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/httpapi"
	"github.com/mlserve/mlserve/internal/s3io"
)

// uploadsFrom is the upload flow of serve and the Lambda (POST /uploads,
// /predict by key) as MLSERVE_UPLOAD_* configure it: nil without a bucket.
func uploadsFrom(ctx context.Context, env *config.Config) (*httpapi.Uploads, error) {
	if env.UploadBucket == "" {
		return nil, nil
	}
	client, err := s3io.NewS3Client(ctx)
	if err != nil {
		return nil, fmt.Errorf("uploads: %w", err)
	}
	return &httpapi.Uploads{
		Bucket:   env.UploadBucket,
		Prefix:   env.UploadPrefix,
		MaxBytes: env.UploadMaxBytes,
		Expiry:   env.UploadExpiry,
		Store:    httpapi.NewS3Objects(client, env.UploadBucket),
	}, nil
}
