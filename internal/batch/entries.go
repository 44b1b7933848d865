package batch

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mlserve/mlserve/internal/s3io"
)

// Failure codes of inputs that can never be read. They are recorded on the
// first try, without reading anything, and a rerun records them again the
// same way: they are not the storage's transient failures (read_failed),
// which a rerun tries again.
const (
	// CodeInvalidInput: a manifest entry that is no readable object: an
	// unsupported scheme, a folder, or a key with an empty, "." or ".."
	// segment (never resolved, so never a way out of the input).
	CodeInvalidInput = "invalid_input"
	// CodeOutsideInput: a manifest entry outside --input, the root a
	// manifest's entries must be under when both are given.
	CodeOutsideInput = "outside_input"
	// CodeSymlink: a symbolic link, in a folder listing or named by a
	// manifest (dangling or not): links are never followed (README).
	CodeSymlink = "symlink"
)

// manifestEntry is one manifest entry, normalized, or why it is refused.
type manifestEntry struct {
	uri    string // normalized: local entries as absolute paths
	refuse *Failure
}

// checkEntries normalizes entries (file:// and relative paths become
// absolute paths, so /p and file:///p name the same object) and refuses
// those that can never be read; root, when set (--input), is the prefix
// every entry must be under.
func checkEntries(entries []string, root string) (ok []string, refused []*Failure) {
	if root != "" {
		if r, err := normalizeURI(root, true); err == nil {
			root = strings.TrimSuffix(r, "/") + "/"
		}
	}
	for _, e := range entries {
		u, err := normalizeURI(e, false)
		switch {
		case err != nil:
			refused = append(refused, &Failure{Input: e, Key: e, Code: CodeInvalidInput, Message: err.Error(), Attempt: 1})
		case root != "" && !strings.HasPrefix(u, root):
			refused = append(refused, &Failure{Input: e, Key: e, Code: CodeOutsideInput,
				Message: fmt.Sprintf("not under the input %s", root), Attempt: 1})
		default:
			ok = append(ok, u)
		}
	}
	return dedupe(ok), refused
}

// checkKeys refuses the keys of a SageMaker manifest that are no object
// key under its prefix.
func checkKeys(prefix string, keys []string) (ok []string, refused []*Failure) {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			uri := s3io.JoinURL(prefix, k)
			refused = append(refused, &Failure{Input: uri, Key: k, Code: CodeInvalidInput, Message: err.Error(), Attempt: 1})
			continue
		}
		ok = append(ok, k)
	}
	return ok, refused
}

// normalizeURI checks an input URI and returns it normalized: s3:// and
// mem:// as they are, a file:// URL or a path as an absolute path. A
// folder (trailing "/") is an error unless dir.
func normalizeURI(u string, dir bool) (string, error) {
	scheme, rest, hasScheme := strings.Cut(u, "://")
	if !hasScheme {
		scheme, rest = "", u
	}
	switch scheme {
	case "s3", "mem":
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return "", fmt.Errorf("%q names no bucket", u)
		}
		if dir {
			return u, nil
		}
		if err := checkKey(key); err != nil {
			return "", err
		}
		return u, nil
	case "file", "":
		if rest == "" {
			return "", fmt.Errorf("%q is an empty path", u)
		}
		if !dir {
			if strings.HasSuffix(rest, "/") {
				return "", fmt.Errorf("%q is a folder, not a file", u)
			}
			if hasDotDot(rest) {
				return "", fmt.Errorf("%q has a \"..\" segment: paths are not resolved", u)
			}
		}
		abs, err := filepath.Abs(filepath.FromSlash(rest))
		if err != nil {
			return "", fmt.Errorf("%q: %w", u, err)
		}
		return filepath.ToSlash(abs), nil
	}
	return "", fmt.Errorf("%q: unsupported scheme %q (want s3://, file:// or a path)", u, scheme)
}

// checkKey refuses an object key with an empty, "." or ".." segment, or a
// trailing "/" (a folder).
func checkKey(key string) error {
	if key == "" || strings.HasSuffix(key, "/") {
		return fmt.Errorf("%q is no object key (empty, or a folder)", key)
	}
	for part := range strings.SplitSeq(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("key %q has an empty, \".\" or \"..\" segment: keys are not resolved", key)
		}
	}
	return nil
}

func hasDotDot(p string) bool {
	for part := range strings.SplitSeq(filepath.ToSlash(p), "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// symlinker is a local store that tells symbolic links apart (s3io's file
// store).
type symlinker interface {
	Symlink(key string) (link bool, target string, err error)
}

// linkFailure is the record of an input that is a symbolic link, or nil
// when it is none (or its store has no links).
func linkFailure(it item) *Failure {
	sl, ok := it.store.(symlinker)
	if !ok {
		return nil
	}
	link, target, err := sl.Symlink(it.key)
	if err != nil || !link {
		return nil // not a link; reading it reports any other problem
	}
	msg := "a symbolic link to " + target + ": links are not followed; list or copy the file itself"
	if target == "" {
		msg = "a dangling symbolic link (it points to nothing): links are not followed"
	}
	return &Failure{Input: it.uri, Key: it.rel, Code: CodeSymlink, Message: msg, Attempt: 1}
}
