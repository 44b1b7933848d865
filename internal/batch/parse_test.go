package batch

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Manifest
		wantErr bool
	}{
		{name: "jsonl strings", in: "\"s3://b/a.jpg\"\n\n\"s3://b/c d.jpg\"\n", want: Manifest{Entries: []string{"s3://b/a.jpg", "s3://b/c d.jpg"}}},
		{name: "bare lines", in: "s3://b/a.jpg\r\n/data/x.png\n", want: Manifest{Entries: []string{"s3://b/a.jpg", "/data/x.png"}}},
		{name: "augmented", in: `{"source-ref": "s3://b/a.jpg", "label": 3}` + "\n", want: Manifest{Entries: []string{"s3://b/a.jpg"}}},
		{name: "duplicates", in: "s3://b/a\ns3://b/a\ns3://b/b\n", want: Manifest{Entries: []string{"s3://b/a", "s3://b/b"}}},
		{name: "sagemaker", in: `[{"prefix": "s3://b/in/"}, "a.jpg", "sub/ü.png"]`, want: Manifest{Prefix: "s3://b/in/", Entries: []string{"a.jpg", "sub/ü.png"}}},
		{name: "empty", in: "", want: Manifest{}},
		{name: "sagemaker no prefix", in: `["a.jpg"]`, wantErr: true},
		{name: "sagemaker empty", in: `[]`, wantErr: true},
		{name: "sagemaker number", in: `[{"prefix": "s3://b/"}, 3]`, wantErr: true},
		{name: "bad json line", in: "\"s3://b/a\n", wantErr: true},
		{name: "object without uri", in: `{"label": 1}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseManifest(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && (got.Prefix != tt.want.Prefix || !slices.Equal(got.Entries, tt.want.Entries)) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/manifest*")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`[{"prefix": "s3://b/"}, "k"]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range m.Entries {
			if e == "" || seen[e] {
				t.Fatalf("entry %q empty or repeated in %q", e, data)
			}
			seen[e] = true
		}
		base, rels := ManifestInputs(m, "")
		for i, r := range rels {
			if m.Prefix == "" && strings.TrimSuffix(base, ".")+r != m.Entries[i] && base+r != m.Entries[i] && base+"/"+r != m.Entries[i] {
				t.Fatalf("base %q + rel %q != entry %q", base, r, m.Entries[i])
			}
		}
	})
}

func TestManifestInputs(t *testing.T) {
	tests := []struct {
		name     string
		m        Manifest
		input    string
		wantBase string
		wantRels []string
	}{
		{"sagemaker", Manifest{Prefix: "s3://b/p/", Entries: []string{"a", "d/b"}}, "", "s3://b/p/", []string{"a", "d/b"}},
		{"under input", Manifest{Entries: []string{"s3://b/in/a.jpg", "s3://b/in/d/b.jpg"}}, "s3://b/in", "s3://b/in/", []string{"a.jpg", "d/b.jpg"}},
		{"common folder", Manifest{Entries: []string{"s3://b/in/x/a.jpg", "s3://b/in/y/b.jpg"}}, "", "s3://b/in/", []string{"x/a.jpg", "y/b.jpg"}},
		{"not under input", Manifest{Entries: []string{"s3://b/in/a.jpg", "s3://b/other/b.jpg"}}, "s3://b/in/", "s3://b/", []string{"in/a.jpg", "other/b.jpg"}},
		{"one", Manifest{Entries: []string{"/data/a.jpg"}}, "", "/data/", []string{"a.jpg"}},
		{"relative", Manifest{Entries: []string{"a.jpg", "b.jpg"}}, "", ".", []string{"a.jpg", "b.jpg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, rels := ManifestInputs(tt.m, tt.input)
			if base != tt.wantBase || !slices.Equal(rels, tt.wantRels) {
				t.Errorf("ManifestInputs = %q, %q; want %q, %q", base, rels, tt.wantBase, tt.wantRels)
			}
		})
	}
}

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		in            string
		failed, total int
		wantExceeded  bool
		wantErr       bool
	}{
		{in: "0", failed: 1, total: 100, wantExceeded: true},
		{in: "0", failed: 0, total: 100},
		{in: "5", failed: 5, total: 10},
		{in: "5", failed: 6, total: 10, wantExceeded: true},
		{in: "10%", failed: 10, total: 100},
		{in: "10%", failed: 11, total: 100, wantExceeded: true},
		{in: "2.5%", failed: 3, total: 100, wantExceeded: true},
		{in: " 50 % ", failed: 1, total: 2},
		{in: "-1", wantErr: true},
		{in: "101%", wantErr: true},
		{in: "x", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			th, err := ParseThreshold(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && th.Exceeded(tt.failed, tt.total) != tt.wantExceeded {
				t.Errorf("%s.Exceeded(%d, %d) = %v", th, tt.failed, tt.total, !tt.wantExceeded)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	for _, tt := range []struct {
		data string
		want bool
	}{
		{"\xFF\xD8\xFF\xE0rest", true}, {"\x89PNG\r\n\x1a\nrest", true}, {"GIF89a", true}, {"GIF87a", true},
		{"RIFF\x00\x00\x00\x00WEBPVP8 ", true}, {"BM....", true}, {"II*\x00", true}, {"MM\x00*", true},
		{"", false}, {"RIFF\x00\x00\x00\x00WAVE", false}, {"hello", false}, {"\xFF", false},
		{"\xFF\xD8", true}, // a JPEG cut after its SOI: decoding records it as truncated
	} {
		if got := isImage([]byte(tt.data)); got != tt.want {
			t.Errorf("isImage(%q) = %v", tt.data, got)
		}
	}
	for key, want := range map[string]bool{"a.JPG": true, "x/y.jpeg": true, "b.png": true, "c.txt": false, "jpg": false, "d.tiff": true, "e": false} {
		if got := hasImageExt(key); got != want {
			t.Errorf("hasImageExt(%q) = %v", key, got)
		}
	}
}
