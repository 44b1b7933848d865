package s3io

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Transfer tuning. Objects below PartSize go up in one PUT; larger ones
// (or those of unknown size that turn out larger) in parts of PartSize.
const (
	PartSize       = 8 << 20
	uploadParallel = 4
	maxAttempts    = 6 // per request, with the SDK's exponential backoff and jitter
	defaultRegion  = "us-east-1"
)

// s3Store is a bucket and key prefix on S3 or an S3-compatible server.
type s3Store struct {
	client *s3.Client
	up     *manager.Uploader
	bucket string
	prefix string // "" or ending in "/"
}

var _ Store = (*s3Store)(nil)

// NewS3Client returns an S3 client from the SDK's standard configuration
// chain (AWS_REGION, credentials, AWS_ENDPOINT_URL_S3, ...). Path-style
// addressing follows SetPathStyle (MLSERVE_S3_PATH_STYLE), by default on
// when an endpoint URL is set (S3-compatible servers rarely have
// per-bucket DNS names).
func NewS3Client(ctx context.Context) (*s3.Client, error) {
	pathStyle := usePathStyle()
	cfg, err := config.LoadDefaultConfig(ctx,
		// With AWS_CA_BUNDLE set the SDK only accepts its buildable client.
		config.WithHTTPClient(awshttp.NewBuildableClient()),
		config.WithRetryMaxAttempts(maxAttempts),
	)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle }), nil
}

// pathStyle is SetPathStyle's value; nil means automatic.
var pathStyle atomic.Pointer[bool]

// SetPathStyle forces path-style addressing on or off for the S3 clients
// made after it; nil restores the default (on when AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL is set). The CLI passes MLSERVE_S3_PATH_STYLE.
func SetPathStyle(on *bool) { pathStyle.Store(on) }

func usePathStyle() bool {
	if b := pathStyle.Load(); b != nil {
		return *b
	}
	return os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
}

func openS3(ctx context.Context, bucket, prefix string) (Store, error) {
	c, err := NewS3Client(ctx)
	if err != nil {
		return nil, fmt.Errorf("open s3://%s/%s: %w", bucket, prefix, err)
	}
	return NewS3Store(c, bucket, prefix), nil
}

// NewS3Store returns the store of bucket under prefix ("" or a folder) using client.
func NewS3Store(client *s3.Client, bucket, prefix string) Store {
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = PartSize
		u.Concurrency = uploadParallel
	})
	return &s3Store{client: client, up: up, bucket: bucket, prefix: dirPrefix(prefix)}
}

func (s *s3Store) url(key string) string { return "s3://" + s.bucket + "/" + s.prefix + key }

func (s *s3Store) List(ctx context.Context, prefix string, fn func(Object) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", s.url(prefix), err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if key == "" || strings.HasSuffix(key, "/") {
				continue // folder marker
			}
			obj := Object{Key: key, Size: aws.ToInt64(o.Size), ETag: unquote(aws.ToString(o.ETag)), ModTime: aws.ToTime(o.LastModified)}
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *s3Store) Open(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	if err := checkKey(key); err != nil {
		return nil, Object{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		return nil, Object{}, mapS3Err("get "+s.url(key), err)
	}
	return out.Body, Object{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: unquote(aws.ToString(out.ETag)), ModTime: aws.ToTime(out.LastModified)}, nil
}

func (s *s3Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
		Body:   r,
		// One algorithm for the upload and all its parts: some servers
		// (versitygw) reject part checksums the upload was not created with.
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}
	if size >= 0 {
		in.ContentLength = aws.Int64(size)
	}
	if _, err := s.up.Upload(ctx, in); err != nil {
		return fmt.Errorf("put %s: %w", s.url(key), err)
	}
	return nil
}

func (s *s3Store) Stat(ctx context.Context, key string) (Object, error) {
	if err := checkKey(key); err != nil {
		return Object{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		return Object{}, mapS3Err("head "+s.url(key), err)
	}
	return Object{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: unquote(aws.ToString(out.ETag)), ModTime: aws.ToTime(out.LastModified)}, nil
}

// mapS3Err wraps ErrNotExist for a missing key (not a missing bucket).
func mapS3Err(op string, err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return fmt.Errorf("%s: %w", op, ErrNotExist)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket" {
		return fmt.Errorf("%s: %w", op, err)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 404 {
		return fmt.Errorf("%s: %w", op, ErrNotExist)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func unquote(etag string) string { return strings.Trim(etag, `"`) }
