package modelstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MismatchError reports a file whose size or sha256 is not the expected one.
type MismatchError struct {
	Path      string // the file checked; "" for a download, whose error names the URL
	What      string // "size" or "sha256"
	Got, Want string
}

func (e *MismatchError) Error() string {
	msg := fmt.Sprintf("%s mismatch: got %s, want %s", e.What, e.Got, e.Want)
	if e.Path == "" {
		return msg
	}
	return e.Path + ": " + msg
}

// stampPath is the file next to a verified file that records its sha256,
// in sha256sum's format.
func stampPath(p string) string { return p + ".sha256" }

// verifyFile checks p against the expected size (if > 0) and sha256 (if
// not ""). The size is checked every time; the sha256 is computed once and
// recorded in a stamp file, which counts as long as it is not older than
// the file. A missing file is an error wrapping fs.ErrNotExist; a wrong
// one is a *MismatchError.
func verifyFile(p string, size int64, sum string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", p)
	}
	if size > 0 && fi.Size() != size {
		return &MismatchError{Path: p, What: "size", Got: fmt.Sprint(fi.Size()), Want: fmt.Sprint(size)}
	}
	if sum == "" {
		return nil
	}
	sum = strings.ToLower(sum)
	if stamped(p, fi, sum) {
		return nil
	}
	got, err := hashFile(p)
	if err != nil {
		return err
	}
	if got != sum {
		return &MismatchError{Path: p, What: "sha256", Got: got, Want: sum}
	}
	// The stamp only saves work next time; failing to write it is harmless.
	_ = writeStamp(p, got)
	return nil
}

// stamped reports whether p's stamp records sum and is not older than p.
func stamped(p string, fi fs.FileInfo, sum string) bool {
	sp := stampPath(p)
	si, err := os.Stat(sp)
	if err != nil || si.ModTime().Before(fi.ModTime()) {
		return false
	}
	b, err := os.ReadFile(sp)
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) > 0 && strings.ToLower(fields[0]) == sum
}

// writeStamp records sum for p, atomically.
func writeStamp(p, sum string) error {
	tmp := stampPath(p) + ".tmp"
	line := sum + "  " + filepath.Base(p) + "\n"
	if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, stampPath(p))
}

// removeAll removes p, its stamp and its partial download.
func removeAll(p string) error {
	var errs []error
	for _, f := range []string{p, stampPath(p), p + ".part"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
