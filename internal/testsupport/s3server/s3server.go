// Package s3server gives tests a real S3 server: the one named by
// MLSERVE_TEST_S3_ENDPOINT (with MLSERVE_TEST_S3_ACCESS_KEY and
// MLSERVE_TEST_S3_SECRET_KEY) when set, else a versitygw process on a free
// loopback port, started from $MLSERVE_TEST_VERSITYGW or PATH:
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// Without either the test is skipped locally and fails in CI (CI set to any non-empty value).
package s3server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mlserve/mlserve/internal/testsupport"
)

// Region is the region the spawned server signs for.
const Region = "us-east-1"

// Server is a running S3 endpoint.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
}

// Start returns a server for t; a spawned one is stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if ep := os.Getenv("MLSERVE_TEST_S3_ENDPOINT"); ep != "" {
		return &Server{
			Endpoint:  ep,
			AccessKey: os.Getenv("MLSERVE_TEST_S3_ACCESS_KEY"),
			SecretKey: os.Getenv("MLSERVE_TEST_S3_SECRET_KEY"),
			Region:    Region,
		}
	}
	bin := testsupport.Tool(t, "versitygw", "MLSERVE_TEST_VERSITYGW")
	s := &Server{AccessKey: "mlserveak", SecretKey: "mlserve-test-secret", Region: Region}
	dir := t.TempDir()
	var lastErr error
	for range 3 { // the free port may be taken between probe and listen
		addr := freeAddr(t)
		s.Endpoint = "http://" + addr
		var logs bytes.Buffer
		cmd := exec.Command(bin, "--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey,
			"--region", s.Region, "posix", dir)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if lastErr = waitListening(addr, exited, 20*time.Second); lastErr == nil {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return s
		}
		cmd.Process.Kill()
		<-exited
		lastErr = fmt.Errorf("%w\n%s", lastErr, logs.String())
	}
	t.Fatalf("versitygw did not start: %v", lastErr)
	return nil
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(addr string, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("timed out waiting for " + addr)
}

// Env returns the AWS_* environment that points the SDK's standard
// configuration chain at the server, for child processes.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Setenv points this process's SDK configuration at the server for the
// duration of t.
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := cutEq(kv)
		t.Setenv(k, v)
	}
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

func cutEq(kv string) (string, string, bool) {
	for i := range len(kv) {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// Client returns an S3 client for the server.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:   awshttp.NewBuildableClient(),
	})
}

// NewBucket creates a bucket with a fresh random name and returns the name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "test-" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// Put stores data under key in bucket.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}
