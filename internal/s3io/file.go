package s3io

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// tmpPrefix names the temporary files of Put; List never reports them.
const tmpPrefix = ".s3io-tmp-"

// fileStore keeps objects as files under a directory. Its ETag is the file's
// modification time and size, so it changes whenever the file is rewritten.
type fileStore struct {
	root string
}

var _ Store = (*fileStore)(nil)

func openFile(dir string) (*fileStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return &fileStore{root: abs}, nil
}

func (s *fileStore) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

func (s *fileStore) object(key string, fi fs.FileInfo) Object {
	return Object{
		Key:     key,
		Size:    fi.Size(),
		ETag:    fmt.Sprintf("%x-%x", fi.ModTime().UnixNano(), fi.Size()),
		ModTime: fi.ModTime(),
	}
}

func (s *fileStore) List(ctx context.Context, prefix string, fn func(Object) error) error {
	// Walk only the deepest directory the prefix names.
	start := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	return s.walk(ctx, start, prefix, fn)
}

// walk lists dir in key order: entries sorted by name with a directory
// sorting as its name plus "/", as S3 does.
func (s *fileStore) walk(ctx context.Context, dir, prefix string, fn func(Object) error) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	type entry struct {
		name string
		de   fs.DirEntry
	}
	es := make([]entry, 0, len(ents))
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), tmpPrefix) {
			continue
		}
		name := de.Name()
		if de.IsDir() {
			name += "/"
		}
		es = append(es, entry{name, de})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	for _, e := range es {
		if err := ctx.Err(); err != nil {
			return err
		}
		full := filepath.Join(dir, e.de.Name())
		rel, err := filepath.Rel(s.root, full)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if e.de.IsDir() {
			k := key + "/"
			if strings.HasPrefix(k, prefix) || strings.HasPrefix(prefix, k) {
				if err := s.walk(ctx, full, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		link := e.de.Type()&fs.ModeSymlink != 0
		if !strings.HasPrefix(key, prefix) || !(e.de.Type().IsRegular() || link) {
			continue
		}
		fi, err := e.de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while listing
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", full, err)
		}
		o := s.object(key, fi)
		o.Symlink = link
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (s *fileStore) Open(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, Object{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, Object{}, mapFileErr(key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Object{}, fmt.Errorf("stat %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, Object{}, fmt.Errorf("open %s: %w", key, ErrNotExist)
	}
	return f, s.object(key, fi), nil
}

func (s *fileStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", key, err)
	}
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return fail(err)
	}
	if size >= 0 && n != size {
		return fail(fmt.Errorf("wrote %d bytes, want %d", n, size))
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (s *fileStore) Stat(ctx context.Context, key string) (Object, error) {
	p, err := s.path(key)
	if err != nil {
		return Object{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Object{}, mapFileErr(key, err)
	}
	if !fi.Mode().IsRegular() {
		return Object{}, fmt.Errorf("stat %s: %w", key, ErrNotExist)
	}
	return s.object(key, fi), nil
}

func mapFileErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR) {
		return fmt.Errorf("%s: %w", key, ErrNotExist)
	}
	return fmt.Errorf("%s: %w", key, err)
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Symlink reports whether key, or a folder on its way from the store's
// root, is a symbolic link, and where the link points ("" when it cannot
// be resolved: a dangling link).
func (s *fileStore) Symlink(key string) (bool, string, error) {
	p, err := s.path(key)
	if err != nil {
		return false, "", err
	}
	rel, err := filepath.Rel(s.root, p)
	if err != nil {
		return false, "", err
	}
	cur := s.root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return false, "", mapFileErr(key, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(cur)
			if err != nil {
				target = ""
			}
			return true, target, nil
		}
	}
	return false, "", nil
}
