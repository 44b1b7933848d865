package modelstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVerifyFile(t *testing.T) {
	data, sum := miniModel(t)
	size := int64(len(data))
	p := filepath.Join(t.TempDir(), "m.onnx")

	if err := verifyFile(p, size, sum); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	writeFile(t, p, data)
	if err := verifyFile(p, size, strings.ToUpper(sum)); err != nil {
		t.Fatalf("first verify: %v", err)
	}
	stamp, err := os.ReadFile(p + ".sha256")
	if err != nil || string(stamp) != sum+"  m.onnx\n" {
		t.Fatalf("stamp = %q, %v; want sha256sum's format", stamp, err)
	}

	// With a stamp newer than the file, the sha256 is not computed again:
	// damage the file behind the stamp's back, keeping size and mtime.
	fi, _ := os.Stat(p)
	damaged := append([]byte(nil), data...)
	damaged[len(damaged)/2] ^= 0xff
	writeFile(t, p, damaged)
	old := fi.ModTime().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if err := verifyFile(p, size, sum); err != nil {
		t.Fatalf("stamped file: %v (the stamp should have spared the hash)", err)
	}

	// The size is checked every time.
	if err := verifyFile(p, size+1, sum); err == nil || !strings.Contains(err.Error(), "size mismatch") {
		t.Errorf("wrong size: err = %v", err)
	}

	// A file changed after its stamp is hashed again.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, future, future); err != nil {
		t.Fatal(err)
	}
	var me *MismatchError
	if err := verifyFile(p, size, sum); !errors.As(err, &me) || me.What != "sha256" {
		t.Errorf("file newer than its stamp: err = %v, want a sha256 mismatch", err)
	}

	// A stamp for another sum does not count.
	writeFile(t, p, data)
	if err := writeStamp(p, strings.Repeat("0", 64)); err != nil {
		t.Fatal(err)
	}
	if err := verifyFile(p, size, sum); err != nil {
		t.Errorf("stamp of another sum: %v", err)
	}
	if err := verifyFile(p, 0, ""); err != nil {
		t.Errorf("nothing expected: %v", err)
	}
}
