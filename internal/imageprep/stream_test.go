package imageprep

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/mlserve/mlserve/internal/jpeg/jpegtest"
)

func TestPrepareReaderMatchesPrepare(t *testing.T) {
	big := jpegtest.Photo(1600, 1200, 4)
	cases := map[string][]byte{
		"1600x1200 progressive, EXIF-less": jpegtest.Cjpeg(t, big, "-progressive", "-quality", "90"),
		"1600x1200 restarts":               jpegtest.Cjpeg(t, big, "-restart", "2", "-sample", "2x1"),
		// FuzzPrepare: 48 components and over the pixel limit, which
		// Prepare leaves to image/jpeg.
		"48 components, 12336x12336": []byte("\xff\xd8\xff\xc0\x00\x14\b00000000000000000"),
	}
	for _, tc := range jpegtest.Corpus(t) {
		cases[tc.Name] = tc.Data
	}
	var cfg Config
	cfg = cfg.withDefaults()
	n := 3 * cfg.Crop * cfg.Crop
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			want := make([]float32, n)
			wantInfo, wantErr := Prepare(data, cfg, want)
			got := make([]float32, n)
			entered, released := 0, 0
			var cost int64
			enter := func(n int64) (func(), error) {
				entered++
				cost = n
				return func() { released++ }, nil
			}
			info, err := PrepareReader(iotest.HalfReader(bytes.NewReader(data)), cfg, got, enter)
			if errors.Is(err, ErrNotStreamed) {
				t.Skipf("not streamed: %v (Prepare: %v)", err, wantErr)
			}
			if Code(err) != Code(wantErr) || (err == nil) != (wantErr == nil) {
				t.Fatalf("PrepareReader: %v, Prepare: %v", err, wantErr)
			}
			if err != nil {
				return
			}
			if info.Width != wantInfo.Width || info.Height != wantInfo.Height || info.Format != wantInfo.Format {
				t.Errorf("Info %+v, Prepare's %+v", info, wantInfo)
			}
			if !slices.Equal(got, want) {
				t.Error("tensor differs from Prepare's")
			}
			if entered != 1 || released != 1 {
				t.Errorf("enter called %d times, release %d, want 1 and 1", entered, released)
			}
			// What enter weighs is what DecodeCost says of the whole file,
			// with the windows in place of the compressed data (for the
			// reduced decodes; at full size DecodeCost is image/jpeg's).
			dc, err := DecodeCost(data, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if jpegScaleOf(data, cfg) > 1 && cost != dc-int64(len(data))-32<<10+streamWindows {
				t.Errorf("enter weighed %d, DecodeCost %d for %d bytes", cost, dc, len(data))
			}
			if cost < int64(info.Width/8)*int64(info.Height/8) {
				t.Errorf("enter weighed %d, less than the 1/8 image", cost)
			}
		})
	}
}

func TestPrepareReaderErrors(t *testing.T) {
	data := jpegtest.Cjpeg(t, jpegtest.Photo(900, 700, 2), "-progressive")
	var cfg Config
	cfg = cfg.withDefaults()
	dst := make([]float32, 3*cfg.Crop*cfg.Crop)
	boom := errors.New("connection reset")
	for _, cut := range []int{0, 50, len(data) / 2, len(data) - 2} {
		_, err := PrepareReader(io.MultiReader(bytes.NewReader(data[:cut]), iotest.ErrReader(boom)), cfg, dst, nil)
		var re *ReadError
		if !errors.As(err, &re) || !errors.Is(err, boom) || Code(err) != "" {
			t.Errorf("read fails after %d bytes: %v (code %q), want a *ReadError and no image code", cut, err, Code(err))
		}
	}
	_, err := PrepareReader(bytes.NewReader(data[:len(data)/2]), cfg, dst, nil)
	if Code(err) != CodeTruncated {
		t.Errorf("half the file: %v, want %s", err, CodeTruncated)
	}
	small := cfg
	small.MaxPixels = 900*700 - 1
	entered := false
	_, err = PrepareReader(bytes.NewReader(data), small, dst, func(int64) (func(), error) { entered = true; return func() {}, nil })
	if Code(err) != CodeTooLarge || entered {
		t.Errorf("over MaxPixels: %v (entered %v), want %s before enter", err, entered, CodeTooLarge)
	}
	exact := cfg
	exact.ExactResize = true
	r := bytes.NewReader(data)
	if _, err := PrepareReader(r, exact, dst, nil); !errors.Is(err, ErrNotStreamed) || r.Len() != len(data) {
		t.Errorf("exact: %v, %d bytes read, want ErrNotStreamed and none read", err, len(data)-r.Len())
	}
	noAdmit := errors.New("no room")
	if _, err := PrepareReader(bytes.NewReader(data), cfg, dst, func(int64) (func(), error) { return nil, noAdmit }); !errors.Is(err, noAdmit) {
		t.Errorf("enter fails: %v", err)
	}
	if _, err := PrepareReader(io.MultiReader(), cfg, dst, nil); Code(err) != CodeTruncated {
		t.Errorf("empty: %v, want %s", err, CodeTruncated)
	}
}

// jpegScaleOf is the reduction the fast path takes for data.
func jpegScaleOf(data []byte, cfg Config) int {
	hdr, err := jpegConfig(data)
	if err != nil {
		return 0
	}
	s, _ := jpegScaleFor(hdr, cfg)
	return s
}

// TestPrepareReaderExifAfterFrame: an EXIF segment after the frame header,
// before the first scan, is one a whole-file Prepare applies, so the stream
// path must too; else batch (which streams large photos) and serve would
// orient the same file differently.
func TestPrepareReaderExifAfterFrame(t *testing.T) {
	plain := jpegtest.Cjpeg(t, jpegtest.Photo(320, 200, 1), "-quality", "90")
	exif := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
	app1 := append([]byte{0xFF, 0xE1, 0, byte(len(exif) + 2)}, exif...)
	cases := map[string]int{"before the frame": 2, "after the frame": segmentEnd(t, plain, 0xC0)}
	var cfg Config
	cfg = cfg.withDefaults()
	for name, at := range cases {
		t.Run(name, func(t *testing.T) {
			data := slices.Concat(plain[:at], app1, plain[at:])
			want := make([]float32, 3*cfg.Crop*cfg.Crop)
			wantInfo, err := Prepare(data, cfg, want)
			if err != nil {
				t.Fatal(err)
			}
			if wantInfo.Width != 200 || wantInfo.Height != 320 {
				t.Fatalf("Prepare: %dx%d, want the rotated 200x320", wantInfo.Width, wantInfo.Height)
			}
			got := make([]float32, len(want))
			info, err := PrepareReader(iotest.OneByteReader(bytes.NewReader(data)), cfg, got, nil)
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != wantInfo.Width || info.Height != wantInfo.Height || !slices.Equal(got, want) {
				t.Errorf("PrepareReader: %dx%d (tensor equal: %v), Prepare: %dx%d", info.Width, info.Height, slices.Equal(got, want), wantInfo.Width, wantInfo.Height)
			}
		})
	}
}

// segmentEnd returns the offset just past data's first marker segment of
// type marker.
func segmentEnd(t *testing.T, data []byte, marker byte) int {
	t.Helper()
	for i := 2; i+4 <= len(data); {
		n := int(data[i+2])<<8 | int(data[i+3])
		if data[i+1] == marker {
			return i + 2 + n
		}
		i += 2 + n
	}
	t.Fatalf("no segment 0x%02X", marker)
	return 0
}
