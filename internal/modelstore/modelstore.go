// Package modelstore finds, downloads, caches and verifies model files.
//
// A model is named by a plain path, a file:// URL, an https:// (or http://)
// URL or an s3:// URL. Remote files are downloaded once into the cache
// directory, keyed by their URL, and reused afterwards. The default model
// (models.Default) lives in the cache under its file name and is verified
// against the manifest's size and sha256.
package modelstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mlserve/mlserve/models"
)

// Request says where to look for a model. Resolve takes, in order: Flag,
// Env (MLSERVE_MODEL), then the cached default model.
type Request struct {
	Flag     string // --model: a path, file://, https:// or s3:// URL
	Env      string // MLSERVE_MODEL, same forms
	CacheDir string // "" means DefaultCacheDir(false)
	Manifest models.Manifest
	// Pull lets Resolve download the default model itself when it is not
	// cached (the CLI sets it on a terminal); otherwise a missing model is
	// an *ErrNoModel naming the command that fetches it.
	Pull bool
	// Progress receives a progress bar while downloading; nil for none.
	Progress io.Writer
	// OpenURL opens s3:// URLs (and any other scheme Resolve does not know).
	// When nil, such URLs are an error.
	OpenURL func(ctx context.Context, uri string) (io.ReadCloser, error)
	// Client downloads http(s):// URLs; nil means http.DefaultClient.
	Client *http.Client
}

// ErrNoModel reports that no model was given and the default one is not
// in the cache.
type ErrNoModel struct {
	Name string // the default model's name
	Size int64  // its size in bytes
	Dir  string // the cache directory it belongs in
}

func (e *ErrNoModel) Error() string {
	return fmt.Sprintf("run %q to download %s (%s) into %s", "mlserve model pull", e.Name, mib(e.Size), e.Dir)
}

// DefaultCacheDir returns the user cache directory + /mlserve. Without a
// home directory, and on AWS Lambda (whose filesystem is read-only except
// /tmp), it is /tmp/mlserve.
func DefaultCacheDir(onLambda bool) string {
	if !onLambda {
		if d, err := os.UserCacheDir(); err == nil {
			return filepath.Join(d, "mlserve")
		}
	}
	return filepath.Join(os.TempDir(), "mlserve")
}

// Resolve returns the local path of the model file: Flag, else Env, else
// the cached default model. Remote URLs are downloaded into the cache on
// first use and reused afterwards.
func Resolve(ctx context.Context, r Request) (string, error) {
	if r.Manifest.File == "" {
		r.Manifest = models.Default()
	}
	if r.CacheDir == "" {
		r.CacheDir = DefaultCacheDir(false)
	}
	switch {
	case r.Flag != "":
		return resolveSource(ctx, r, r.Flag)
	case r.Env != "":
		return resolveSource(ctx, r, r.Env)
	}
	return resolveDefault(ctx, r)
}

// resolveDefault returns the cached default model, pulling it when allowed.
func resolveDefault(ctx context.Context, r Request) (string, error) {
	m := r.Manifest
	dest := filepath.Join(r.CacheDir, m.File)
	err := verifyFile(dest, m.Size, m.SHA256)
	switch {
	case err == nil:
		return dest, nil
	case r.Pull:
		// Pull verifies again under its lock and downloads a missing or
		// damaged file.
	case errors.Is(err, fs.ErrNotExist):
		return "", &ErrNoModel{Name: m.Name, Size: m.Size, Dir: r.CacheDir}
	default:
		return "", fmt.Errorf("cached model: %w; run %q to download it again", err, "mlserve model pull")
	}
	start := time.Now()
	slog.InfoContext(ctx, "downloading model", "name", m.Name, "url", m.URL, "dest", dest)
	err = Pull(ctx, PullOptions{
		URL: m.URL, Size: m.Size, SHA256: m.SHA256, Dest: dest,
		Progress: r.Progress, Client: r.Client,
	})
	if err != nil {
		return "", err
	}
	slog.InfoContext(ctx, "downloaded model", "name", m.Name, "dest", dest, "duration", time.Since(start).Round(time.Millisecond))
	return dest, nil
}

// resolveSource resolves one --model or MLSERVE_MODEL value.
func resolveSource(ctx context.Context, r Request, src string) (string, error) {
	scheme, _, isURL := strings.Cut(src, "://")
	if !isURL {
		return localFile(src)
	}
	u, err := url.Parse(src)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", src, err)
	}
	switch strings.ToLower(scheme) {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("model %s: file URL with host %q: want file:///absolute/path", src, u.Host)
		}
		if u.Path == "" {
			return "", fmt.Errorf("model %s: file URL without a path", src)
		}
		return localFile(u.Path)
	case "http", "https":
		return downloadURL(ctx, r, src, u)
	default:
		if r.OpenURL == nil {
			return "", fmt.Errorf("model %s: %s:// URLs are not supported here", src, scheme)
		}
		return fetchURL(ctx, r, src, u)
	}
}

// localFile checks that path names a regular file.
func localFile(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("model %s: no such file: %w", p, err)
		}
		return "", fmt.Errorf("model %s: %w", p, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("model %s: is a directory, want an .onnx file", p)
	}
	return p, nil
}

// urlCachePath is where a downloaded URL lives in the cache:
// <dir>/url/<sha256(url)[:16]>-<basename>.
func urlCachePath(dir, src string, u *url.URL) string {
	sum := sha256.Sum256([]byte(src))
	base := path.Base(u.Path)
	if base == "." || base == "/" || base == "" {
		base = "model.onnx"
	}
	return filepath.Join(dir, "url", hex.EncodeToString(sum[:])[:16]+"-"+base)
}

// downloadURL downloads an http(s) URL into the cache, or reuses an
// earlier download. Only the manifest's own URL is checked against the
// manifest's size and sha256.
func downloadURL(ctx context.Context, r Request, src string, u *url.URL) (string, error) {
	dest := urlCachePath(r.CacheDir, src, u)
	opts := PullOptions{URL: src, Dest: dest, Progress: r.Progress, Client: r.Client}
	if src == r.Manifest.URL {
		opts.Size, opts.SHA256 = r.Manifest.Size, r.Manifest.SHA256
		if verifyFile(dest, opts.Size, opts.SHA256) == nil {
			return dest, nil
		}
	} else if fileExists(dest) {
		return dest, nil // only a complete download reaches this name
	}
	start := time.Now()
	slog.InfoContext(ctx, "downloading model", "url", src, "dest", dest)
	if err := Pull(ctx, opts); err != nil {
		return "", err
	}
	slog.InfoContext(ctx, "downloaded model", "url", src, "dest", dest, "duration", time.Since(start).Round(time.Millisecond))
	return dest, nil
}

// fetchURL copies a URL opened by r.OpenURL (s3://) into the cache, or
// reuses an earlier copy.
func fetchURL(ctx context.Context, r Request, src string, u *url.URL) (string, error) {
	dest := urlCachePath(r.CacheDir, src, u)
	if fileExists(dest) {
		return dest, nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("model %s: %w", src, err)
	}
	unlock, err := lockDir(ctx, filepath.Dir(dest))
	if err != nil {
		return "", fmt.Errorf("model %s: %w", src, err)
	}
	defer unlock()
	if fileExists(dest) { // another process fetched it while we waited
		return dest, nil
	}
	start := time.Now()
	slog.InfoContext(ctx, "fetching model", "url", src, "dest", dest)
	rc, err := r.OpenURL(ctx, src)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", src, err)
	}
	defer rc.Close()
	part := dest + ".part"
	f, err := os.Create(part)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", src, err)
	}
	p := newProgress(r.Progress, path.Base(u.Path), src, 0, -1)
	n, err := io.Copy(f, &progressReader{r: rc, p: p})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, dest)
	}
	if err != nil {
		os.Remove(part)
		p.fail()
		return "", fmt.Errorf("model %s: %w", src, err)
	}
	p.done(n)
	slog.InfoContext(ctx, "fetched model", "url", src, "dest", dest, "bytes", n, "duration", time.Since(start).Round(time.Millisecond))
	return dest, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// mib formats a size in whole MiB, as in "98 MiB".
func mib(n int64) string {
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
