// Package s3io is mlserve's storage: one small Store interface addressed by
// URL, with backends for S3 (s3://bucket/prefix), local folders (file:///dir,
// /dir, ./dir) and memory (mem://name, for tests).
//
// Keys are slash-separated and relative to the store's root (the URL's
// prefix or directory). URLs are taken literally: no percent-decoding, so
// keys may hold spaces and any UTF-8.
package s3io

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Object describes one stored object.
type Object struct {
	Key     string // relative to the store root, slash-separated
	Size    int64
	ETag    string // opaque version tag, without quotes; changes when the content does
	ModTime time.Time
	// Symlink: a local folder listing found a symbolic link here (to a
	// file, a folder, or nothing); Size, ETag and ModTime are the link's.
	// List reports links rather than following or hiding them.
	Symlink bool
}

// Store is a flat namespace of objects under one root.
type Store interface {
	// List calls fn for every object whose key starts with prefix, in
	// lexical key order, fetching pages as it goes. An error from fn stops
	// the listing and is returned.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// Open streams an object. The caller closes the reader.
	Open(ctx context.Context, key string) (io.ReadCloser, Object, error)
	// Put stores r under key atomically: readers see the old object or the
	// whole new one. size is the length of r, or -1 when unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Stat describes an object; errors.Is(err, ErrNotExist) when it is missing.
	Stat(ctx context.Context, key string) (Object, error)
}

// ErrNotExist reports a missing object.
var ErrNotExist = errors.New("s3io: object does not exist")

// Open returns the store for url: s3://bucket/prefix, file:///dir, a plain
// path (/dir, ./dir, dir) or mem://name.
func Open(ctx context.Context, url string) (Store, error) {
	scheme, rest := splitScheme(url)
	switch scheme {
	case "s3":
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, fmt.Errorf("open %s: no bucket", url)
		}
		return openS3(ctx, bucket, dirPrefix(prefix))
	case "file", "":
		if rest == "" {
			return nil, fmt.Errorf("open %q: empty path", url)
		}
		return openFile(rest)
	case "mem":
		name, prefix, _ := strings.Cut(rest, "/")
		return openMem(name, dirPrefix(prefix)), nil
	default:
		return nil, fmt.Errorf("open %s: unsupported scheme %q (want s3, file or mem)", url, scheme)
	}
}

// ReadURL opens the single object uri names, e.g. s3://bucket/key or a path.
func ReadURL(ctx context.Context, uri string) (io.ReadCloser, error) {
	s, key, err := openParent(ctx, uri)
	if err != nil {
		return nil, err
	}
	rc, _, err := s.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, err)
	}
	return rc, nil
}

// WriteURL stores data as the single object uri names.
func WriteURL(ctx context.Context, uri string, data []byte) error {
	s, key, err := openParent(ctx, uri)
	if err != nil {
		return err
	}
	if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("write %s: %w", uri, err)
	}
	return nil
}

// Exists reports whether key exists in s.
func Exists(ctx context.Context, s Store, key string) (bool, error) {
	_, err := s.Stat(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// JoinURL returns the URL of key in the store opened from base.
func JoinURL(base, key string) string {
	if key == "" {
		return base
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + key
}

// Split divides an object URL into the URL of its parent (a store URL) and
// the object's key in that store.
func Split(uri string) (parent, key string, err error) {
	scheme, rest := splitScheme(uri)
	i := strings.LastIndex(rest, "/")
	switch {
	case scheme == "s3" || scheme == "mem":
		if i <= 0 || i == len(rest)-1 {
			return "", "", fmt.Errorf("%s: not an object URL (want %s://bucket/key)", uri, scheme)
		}
		return uri[:len(uri)-len(rest)+i+1], rest[i+1:], nil
	case scheme == "file" || scheme == "":
		if rest == "" || strings.HasSuffix(rest, "/") {
			return "", "", fmt.Errorf("%s: not a file", uri)
		}
		dir, file := filepath.Split(rest)
		if dir == "" {
			dir = "."
		}
		return dir, file, nil
	default:
		return "", "", fmt.Errorf("%s: unsupported scheme %q (want s3, file or mem)", uri, scheme)
	}
}

func openParent(ctx context.Context, uri string) (Store, string, error) {
	parent, key, err := Split(uri)
	if err != nil {
		return nil, "", err
	}
	s, err := Open(ctx, parent)
	if err != nil {
		return nil, "", err
	}
	return s, key, nil
}

// splitScheme splits "s3://b/k" into "s3" and "b/k"; a plain path has no scheme.
func splitScheme(url string) (scheme, rest string) {
	s, r, ok := strings.Cut(url, "://")
	if !ok || strings.ContainsAny(s, "/\\. ") {
		return "", url
	}
	return strings.ToLower(s), r
}

// dirPrefix makes a key prefix name a folder: "in" and "in/" both become "in/".
func dirPrefix(p string) string {
	p = strings.TrimLeft(p, "/")
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// checkKey rejects keys that could escape a store's root.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("invalid key %q", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("invalid key %q", key)
		}
	}
	if path.Clean(key) != key {
		return fmt.Errorf("invalid key %q", key)
	}
	return nil
}
