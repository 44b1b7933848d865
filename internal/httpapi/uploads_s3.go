package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Objects is the ObjectStore of one S3 bucket: the SDK's presigner for
// PUT URLs and GetObject to read.
type S3Objects struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
}

var _ ObjectStore = (*S3Objects)(nil)

// NewS3Objects returns the upload store of bucket through client.
func NewS3Objects(client *s3.Client, bucket string) *S3Objects {
	return &S3Objects{client: client, presign: s3.NewPresignClient(client), bucket: bucket}
}

// PresignPut presigns a PutObject of key; a size > 0 is signed as its
// Content-Length.
func (s *S3Objects) PresignPut(ctx context.Context, key string, size int64, expiry time.Duration) (Presigned, error) {
	in := &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if size > 0 {
		in.ContentLength = aws.Int64(size)
	}
	req, err := s.presign.PresignPutObject(ctx, in, s3.WithPresignExpires(expiry))
	if err != nil {
		return Presigned{}, err
	}
	return Presigned{Method: req.Method, URL: req.URL, Header: req.SignedHeader}, nil
}

// Open gets key; the size is the response's Content-Length.
func (s *S3Objects) Open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *types.NoSuchKey
		var api smithy.APIError
		if errors.As(err, &nsk) || (errors.As(err, &api) && api.ErrorCode() == "NotFound") {
			return nil, 0, errors.Join(ErrNoObject, err)
		}
		// Without s3:ListBucket (the deployed predict role may read
		// uploads/ and nothing else) S3 answers a missing key with 403.
		if errors.As(err, &api) && api.ErrorCode() == "AccessDenied" {
			return nil, 0, errors.Join(ErrNoObject, err)
		}
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			return nil, 0, errors.Join(ErrNoObject, err)
		}
		return nil, 0, err
	}
	return out.Body, aws.ToInt64(out.ContentLength), nil
}
