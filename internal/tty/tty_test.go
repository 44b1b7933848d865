package tty

import (
	"bytes"
	"os"
	"testing"
)

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		want        string
	}{
		{0, 10, "[>         ]"},
		{5, 10, "[=====>    ]"},
		{9, 10, "[=========>]"},
		{10, 10, "[==========]"},
		{12, 10, "[==========]"}, // more than the total: full, never wider
		{-1, 10, "[>         ]"},
		{3, 0, "[>         ]"}, // total unknown
	} {
		if got := Bar(tc.done, tc.total, 10); got != tc.want {
			t.Errorf("Bar(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
}

func TestIs(t *testing.T) {
	if Is(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if Is(f) {
		t.Error("a regular file is a terminal")
	}
}
