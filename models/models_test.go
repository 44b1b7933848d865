package models

import (
	"os"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	m := Default()
	// Size and sha256 of the model zoo's file, from ../shared/fixtures/README.md.
	readme, err := os.ReadFile("../../shared/fixtures/README.md")
	if err != nil {
		t.Fatal(err)
	}
	line := "`resnet50-v1-12.onnx`: 102576419 bytes, sha256 " + m.SHA256
	if !strings.Contains(string(readme), line) || m.Size != 102576419 {
		t.Errorf("manifest size/sha256 (%d, %s) do not match the fixtures README", m.Size, m.SHA256)
	}
	if m.Name != "resnet50-v1-12" || !strings.HasSuffix(m.URL, "/"+m.File) || m.InputSize != 224 || m.ResizeSize != 256 {
		t.Errorf("manifest %+v", m)
	}
	if m.Mean != [3]float32{0.485, 0.456, 0.406} || m.Std != [3]float32{0.229, 0.224, 0.225} {
		t.Errorf("mean %v std %v: want the ImageNet values", m.Mean, m.Std)
	}
}

func TestImageNetLabels(t *testing.T) {
	l := ImageNetLabels()
	if len(l) != 1000 || l[0] != "tench" || l[999] != "toilet tissue" {
		t.Errorf("%d labels, first %q, last %q", len(l), l[0], l[len(l)-1])
	}
}

func TestReadLabels(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"a\nb\nc\n", 3, false},
		{"a\r\nb\r\n\n\n", 2, false},
		{"", 0, true},
		{"\n\n", 0, true},
	}
	for _, tt := range tests {
		got, err := ReadLabels(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr || len(got) != tt.want {
			t.Errorf("ReadLabels(%q) = %v, %v", tt.in, got, err)
		}
	}
}
