package s3io_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/mlserve/mlserve/internal/s3io"
	"github.com/mlserve/mlserve/internal/s3io/storetest"
	"github.com/mlserve/mlserve/internal/testsupport/s3server"
)

var memN atomic.Int64

func TestMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) s3io.Store {
		s, err := s3io.Open(context.Background(), fmt.Sprintf("mem://conformance-%d/prefix/", memN.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestFileStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) s3io.Store {
		s, err := s3io.Open(context.Background(), "file://"+filepath.Join(t.TempDir(), "root"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestS3Store(t *testing.T) {
	srv := s3server.Start(t)
	srv.Setenv(t)
	bucket := srv.NewBucket(t)
	n := 0
	storetest.Run(t, func(t *testing.T) s3io.Store {
		n++
		s, err := s3io.Open(context.Background(), fmt.Sprintf("s3://%s/run-%d", bucket, n))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	t.Run("URLs", func(t *testing.T) {
		testURLs(t, fmt.Sprintf("s3://%s/urls", bucket))
	})
	t.Run("NoSuchBucket", func(t *testing.T) {
		s, err := s3io.Open(context.Background(), "s3://no-such-bucket-mlserve/x")
		if err != nil {
			t.Fatal(err)
		}
		// Open, not Stat: a HEAD response has no body to tell a missing
		// bucket from a missing key.
		if _, _, err := s.Open(context.Background(), "k"); err == nil || errors.Is(err, s3io.ErrNotExist) {
			t.Errorf("Open in a missing bucket: err = %v, want an error other than ErrNotExist", err)
		}
	})
}

func TestURLsFile(t *testing.T) { testURLs(t, t.TempDir()) }
func TestURLsMem(t *testing.T)  { testURLs(t, "mem://urls") }

// testURLs writes and reads single objects by URL under base.
func testURLs(t *testing.T, base string) {
	ctx := context.Background()
	uri := s3io.JoinURL(base, "sub dir/ü.json")
	if _, err := s3io.ReadURL(ctx, uri); !errors.Is(err, s3io.ErrNotExist) {
		t.Fatalf("ReadURL missing: %v", err)
	}
	if err := s3io.WriteURL(ctx, uri, []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	rc, err := s3io.ReadURL(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if string(got) != `{"ok":true}` {
		t.Errorf("ReadURL = %q", got)
	}
	// The same object through a store opened at base.
	s, err := s3io.Open(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s3io.Exists(ctx, s, "sub dir/ü.json"); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
}

func TestOpenPlainPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "x.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{dir, "file://" + dir, ".", "./", dir + "/"} {
		s, err := s3io.Open(context.Background(), u)
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		if o, err := s.Stat(context.Background(), "x.txt"); err != nil || o.Size != 1 {
			t.Errorf("Open(%q).Stat = %+v, %v", u, o, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, u := range []string{"s3://", "s3:///key", "gs://bucket/x", ""} {
		if _, err := s3io.Open(context.Background(), u); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		uri, parent, key string
		wantErr          bool
	}{
		{uri: "s3://b/k.jpg", parent: "s3://b/", key: "k.jpg"},
		{uri: "s3://b/in/dir/a b.jpg", parent: "s3://b/in/dir/", key: "a b.jpg"},
		{uri: "mem://m/x", parent: "mem://m/", key: "x"},
		{uri: "/tmp/a/b.txt", parent: "/tmp/a/", key: "b.txt"},
		{uri: "file:///tmp/b.txt", parent: "/tmp/", key: "b.txt"},
		{uri: "b.txt", parent: ".", key: "b.txt"},
		{uri: "s3://bucket", wantErr: true},
		{uri: "s3://bucket/", wantErr: true},
		{uri: "/tmp/dir/", wantErr: true},
		{uri: "ftp://x/y", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			p, k, err := s3io.Split(tt.uri)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Split(%q) err = %v, wantErr %v", tt.uri, err, tt.wantErr)
			}
			if !tt.wantErr && (p != tt.parent || k != tt.key) {
				t.Errorf("Split(%q) = %q, %q; want %q, %q", tt.uri, p, k, tt.parent, tt.key)
			}
		})
	}
}

func TestJoinURL(t *testing.T) {
	for _, tt := range []struct{ base, key, want string }{
		{"s3://b/p", "k", "s3://b/p/k"},
		{"s3://b/p/", "d/k", "s3://b/p/d/k"},
		{"/dir", "k", "/dir/k"},
		{"s3://b/p/", "", "s3://b/p/"},
	} {
		if got := s3io.JoinURL(tt.base, tt.key); got != tt.want {
			t.Errorf("JoinURL(%q, %q) = %q, want %q", tt.base, tt.key, got, tt.want)
		}
	}
}
