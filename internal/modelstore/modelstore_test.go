package modelstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mlserve/mlserve/models"
)

// miniManifest describes the mini fixture model as if it were the default.
func miniManifest(t *testing.T, url string) models.Manifest {
	data, sum := miniModel(t)
	m := models.Default()
	m.Name, m.File, m.URL, m.Size, m.SHA256 = "mini", "mini.onnx", url, int64(len(data)), sum
	return m
}

func TestResolveOrder(t *testing.T) {
	data, _ := miniModel(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	flagFile := filepath.Join(dir, "flag.onnx")
	envFile := filepath.Join(dir, "env.onnx")
	cached := filepath.Join(cache, "mini.onnx")
	for _, p := range []string{flagFile, envFile, cached} {
		writeFile(t, p, data)
	}
	man := miniManifest(t, noServer(t).URL+"/mini.onnx")

	tests := []struct {
		name       string
		flag, env  string
		noCache    bool
		want       string
		wantNoModl bool
	}{
		{name: "flag beats env and cache", flag: flagFile, env: envFile, want: flagFile},
		{name: "env beats cache", env: envFile, want: envFile},
		{name: "cache", want: cached},
		{name: "flag without cache", flag: flagFile, noCache: true, want: flagFile},
		{name: "nothing", noCache: true, wantNoModl: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Flag: tc.flag, Env: tc.env, CacheDir: cache, Manifest: man}
			if tc.noCache {
				r.CacheDir = t.TempDir()
			}
			got, err := Resolve(context.Background(), r)
			if tc.wantNoModl {
				var nm *ErrNoModel
				if !errors.As(err, &nm) {
					t.Fatalf("err = %v, want *ErrNoModel", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Resolve = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestErrNoModelMessage(t *testing.T) {
	dir := t.TempDir()
	_, err := Resolve(context.Background(), Request{CacheDir: dir, Manifest: models.Default()})
	want := `run "mlserve model pull" to download resnet50-v1-12 (98 MiB) into ` + dir
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	// A zero Manifest means the default one.
	_, err = Resolve(context.Background(), Request{CacheDir: dir})
	if err == nil || err.Error() != want {
		t.Fatalf("zero Manifest: err = %v\nwant  %s", err, want)
	}
}

func TestResolveLocal(t *testing.T) {
	data, _ := miniModel(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	writeFile(t, model, data)
	missing := filepath.Join(dir, "missing.onnx")

	tests := []struct {
		name    string
		src     string
		want    string
		wantErr string
	}{
		{name: "plain path", src: model, want: model},
		{name: "file URL", src: "file://" + model, want: model},
		{name: "file URL with localhost", src: "file://localhost" + model, want: model},
		{name: "missing path", src: missing, wantErr: missing + ": no such file"},
		{name: "missing file URL", src: "file://" + missing, wantErr: missing + ": no such file"},
		{name: "directory", src: dir, wantErr: "is a directory"},
		{name: "file URL with a host", src: "file://example.com/m.onnx", wantErr: "want file:///absolute/path"},
		{name: "unknown scheme", src: "gs://bucket/m.onnx", wantErr: "gs:// URLs are not supported"},
		{name: "s3 without opener", src: "s3://bucket/m.onnx", wantErr: "s3:// URLs are not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(context.Background(), Request{Flag: tc.src, CacheDir: t.TempDir()})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(tc.name, "missing") && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("err = %v, want it to wrap fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Resolve = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestResolveHTTP(t *testing.T) {
	data, _ := miniModel(t)
	srv := newFileServer(t, data, nil)
	cache := t.TempDir()
	src := srv.URL + "/models/mini-v1.onnx"
	r := Request{Flag: src, CacheDir: cache, Manifest: miniManifest(t, "https://example.invalid/mini.onnx")}

	var paths []string
	for range 2 {
		p, err := Resolve(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if paths[0] != paths[1] {
		t.Errorf("second Resolve = %s, want the first one's %s", paths[1], paths[0])
	}
	if got := len(srv.requests()); got != 1 {
		t.Errorf("%d requests for two Resolves, want 1 (the second reuses the cache)", got)
	}
	if ok, _ := regexp.MatchString(`^url/[0-9a-f]{16}-mini-v1\.onnx$`, filepath.ToSlash(strings.TrimPrefix(paths[0], cache+"/"))); !ok {
		t.Errorf("cached at %s, want %s/url/<16 hex>-mini-v1.onnx", paths[0], cache)
	}
	mustExist(t, paths[0], data)

	// Env takes the same forms.
	r.Flag, r.Env = "", src
	if p, err := Resolve(context.Background(), r); err != nil || p != paths[0] {
		t.Errorf("Env: Resolve = %s, %v; want %s", p, err, paths[0])
	}
}

func TestResolveHTTPErrors(t *testing.T) {
	data, _ := miniModel(t)
	srv := newFileServer(t, data, func(s *fileServer) { s.status = 404 })
	cache := t.TempDir()
	_, err := Resolve(context.Background(), Request{Flag: srv.URL + "/x.onnx", CacheDir: cache})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 {
		t.Fatalf("err = %v, want a 404 *StatusError", err)
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "url", "*.onnx*"))
	if len(entries) != 0 {
		t.Errorf("files left after a 404: %v", entries)
	}
}

func TestResolveManifestURLIsVerified(t *testing.T) {
	data, _ := miniModel(t)
	srv := newFileServer(t, data, nil)
	src := srv.URL + "/mini.onnx"

	t.Run("match", func(t *testing.T) {
		p, err := Resolve(context.Background(), Request{Flag: src, CacheDir: t.TempDir(), Manifest: miniManifest(t, src)})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, p, data)
	})
	t.Run("mismatch", func(t *testing.T) {
		man := miniManifest(t, src)
		man.SHA256 = strings.Repeat("ab", 32)
		cache := t.TempDir()
		_, err := Resolve(context.Background(), Request{Flag: src, CacheDir: cache, Manifest: man})
		var me *MismatchError
		if !errors.As(err, &me) || me.What != "sha256" {
			t.Fatalf("err = %v, want a sha256 *MismatchError", err)
		}
		entries, _ := filepath.Glob(filepath.Join(cache, "url", "*.onnx*"))
		if len(entries) != 0 {
			t.Errorf("files left after a mismatch: %v", entries)
		}
	})
	t.Run("other URL is not checked", func(t *testing.T) {
		man := miniManifest(t, src+"?mirror=no")
		man.SHA256 = strings.Repeat("ab", 32)
		if _, err := Resolve(context.Background(), Request{Flag: src, CacheDir: t.TempDir(), Manifest: man}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestResolveS3(t *testing.T) {
	data, _ := miniModel(t)
	var opened atomic.Int32
	open := func(_ context.Context, uri string) (io.ReadCloser, error) {
		opened.Add(1)
		if uri != "s3://bucket/models/mini.onnx" {
			return nil, errors.New("NoSuchKey: " + uri)
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	cache := t.TempDir()
	r := Request{Flag: "s3://bucket/models/mini.onnx", CacheDir: cache, OpenURL: open}
	var paths []string
	for range 2 {
		p, err := Resolve(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if opened.Load() != 1 {
		t.Errorf("OpenURL called %d times for two Resolves, want 1", opened.Load())
	}
	if paths[0] != paths[1] || !strings.HasPrefix(paths[0], filepath.Join(cache, "url")+"/") || !strings.HasSuffix(paths[0], "-mini.onnx") {
		t.Errorf("paths = %q, want one file under %s/url", paths, cache)
	}
	mustExist(t, paths[0], data)

	r.Flag = "s3://bucket/missing.onnx"
	_, err := Resolve(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "NoSuchKey") || !strings.Contains(err.Error(), r.Flag) {
		t.Errorf("err = %v, want the opener's error naming the URL", err)
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "url", "*missing*"))
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// failingReader fails after its data, like a connection reset.
type failingReader struct{ r io.Reader }

func (f failingReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func (failingReader) Close() error { return nil }

func TestResolveS3ReadErrorKeepsNothing(t *testing.T) {
	cache := t.TempDir()
	open := func(context.Context, string) (io.ReadCloser, error) {
		return failingReader{strings.NewReader("partial")}, nil
	}
	_, err := Resolve(context.Background(), Request{Flag: "s3://b/m.onnx", CacheDir: cache, OpenURL: open})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v, want the read error", err)
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "url", "*.onnx*"))
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestResolveDefault(t *testing.T) {
	data, _ := miniModel(t)

	t.Run("cache hit makes no request", func(t *testing.T) {
		cache := t.TempDir()
		writeFile(t, filepath.Join(cache, "mini.onnx"), data)
		man := miniManifest(t, noServer(t).URL+"/mini.onnx")
		for _, pull := range []bool{false, true} {
			p, err := Resolve(context.Background(), Request{CacheDir: cache, Manifest: man, Pull: pull})
			if err != nil || p != filepath.Join(cache, "mini.onnx") {
				t.Fatalf("Resolve = %s, %v", p, err)
			}
		}
	})
	t.Run("pull when missing", func(t *testing.T) {
		srv := newFileServer(t, data, nil)
		cache := t.TempDir()
		var progress bytes.Buffer
		r := Request{CacheDir: cache, Manifest: miniManifest(t, srv.URL+"/mini.onnx"), Pull: true, Progress: &progress}
		p, err := Resolve(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if p != filepath.Join(cache, "mini.onnx") {
			t.Errorf("Resolve = %s, want %s", p, filepath.Join(cache, "mini.onnx"))
		}
		mustExist(t, p, data)
		if !strings.Contains(progress.String(), "downloaded mini.onnx") {
			t.Errorf("progress = %q", progress.String())
		}
	})
	t.Run("damaged cache without pull", func(t *testing.T) {
		cache := t.TempDir()
		writeFile(t, filepath.Join(cache, "mini.onnx"), data[:100])
		_, err := Resolve(context.Background(), Request{CacheDir: cache, Manifest: miniManifest(t, noServer(t).URL)})
		var me *MismatchError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), `"mlserve model pull"`) {
			t.Fatalf("err = %v, want a size mismatch naming mlserve model pull", err)
		}
	})
	t.Run("damaged cache with pull", func(t *testing.T) {
		srv := newFileServer(t, data, nil)
		cache := t.TempDir()
		writeFile(t, filepath.Join(cache, "mini.onnx"), bytes.Repeat([]byte{1}, len(data)))
		p, err := Resolve(context.Background(), Request{CacheDir: cache, Manifest: miniManifest(t, srv.URL), Pull: true})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, p, data)
	})
}

func TestDefaultCacheDir(t *testing.T) {
	// MLSERVE_CACHE_DIR is the caller's (config's): see the cli tests.
	tests := []struct {
		name     string
		env      map[string]string
		onLambda bool
		want     string
	}{
		{"XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": "/xdg"}, false, "/xdg/mlserve"},
		{"HOME", map[string]string{"HOME": "/home/u"}, false, "/home/u/.cache/mlserve"},
		{"no home", map[string]string{"HOME": ""}, false, "/tmp/mlserve"},
		{"lambda", map[string]string{"HOME": "/home/u"}, true, "/tmp/mlserve"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"XDG_CACHE_HOME", "HOME", "TMPDIR"} {
				t.Setenv(k, "")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			if got := DefaultCacheDir(tc.onLambda); got != tc.want {
				t.Errorf("DefaultCacheDir = %s, want %s", got, tc.want)
			}
		})
	}
}
