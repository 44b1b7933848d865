package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Auth signs a request to the endpoint before it is sent. body is the
// request's body (nil for none).
type Auth interface {
	Authorize(ctx context.Context, req *http.Request, body []byte) error
}

// Bearer sends a token as "Authorization: Bearer <token>" (the HTTP API's
// JWT authorizer).
type Bearer string

// Authorize sets the Authorization header.
func (b Bearer) Authorize(_ context.Context, req *http.Request, _ []byte) error {
	req.Header.Set("Authorization", "Bearer "+string(b))
	return nil
}

// SigV4 signs with AWS Signature Version 4 (the HTTP API's IAM
// authorization, a Function URL's AWS_IAM).
type SigV4 struct {
	Credentials aws.CredentialsProvider
	Region      string
	Service     string // execute-api (API Gateway) or lambda (Function URLs)
	signer      *v4.Signer
}

// NewSigV4 signs for the endpoint's service and region: both come from
// an API Gateway or Function URL host name, else service execute-api in
// region (the SDK configuration's).
func NewSigV4(creds aws.CredentialsProvider, endpointHost, region string) *SigV4 {
	service, r := "execute-api", ""
	if s, rr, ok := AWSHost(endpointHost); ok {
		service, r = s, rr
	}
	if r == "" {
		r = region
	}
	return &SigV4{Credentials: creds, Region: r, Service: service, signer: v4.NewSigner()}
}

// Authorize signs req, body included.
func (s *SigV4) Authorize(ctx context.Context, req *http.Request, body []byte) error {
	if s.Region == "" {
		return fmt.Errorf("sigv4: no region: set AWS_REGION or use an endpoint whose host names it")
	}
	creds, err := s.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("sigv4: credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := s.signer.SignHTTP(ctx, creds, req, hash, s.Service, s.Region, time.Now()); err != nil {
		return fmt.Errorf("sigv4: %w", err)
	}
	return nil
}

// AWSHost tells the signing service and region of an AWS endpoint host:
// <id>.execute-api.<region>.amazonaws.com[.cn] and
// <id>.lambda-url.<region>.on.aws. ok is false for other hosts.
func AWSHost(host string) (service, region string, ok bool) {
	host = strings.ToLower(host)
	if h, _, found := strings.Cut(host, ":"); found {
		host = h
	}
	parts := strings.Split(host, ".")
	for i := 1; i+1 < len(parts); i++ {
		switch {
		case parts[i] == "execute-api" && strings.HasPrefix(strings.Join(parts[i+2:], "."), "amazonaws.com"):
			return "execute-api", parts[i+1], true
		case parts[i] == "lambda-url" && strings.Join(parts[i+2:], ".") == "on.aws":
			return "lambda", parts[i+1], true
		}
	}
	return "", "", false
}
