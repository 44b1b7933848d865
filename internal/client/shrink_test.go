package client

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"testing"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// fixtureImages are the shared fixture images with torch's preprocessed
// tensors beside them (../shared/fixtures/preprocess).
var fixtureImages = []string{
	"cmyk-410x310.jpg", "dog-768x576.jpg", "exif-rot6-480x360.jpg", "gray-320x480.png",
	"palette-256x256.gif", "rgba-300x300.png", "scene-500x375.png", "scene-640x427-q90.jpg",
	"scene-800x600-progressive.jpg", "tiny-60x45.png", "wide-1200x150.png",
}

// TestShrinkAgainstTorch shrinks every fixture to a shorter side of 280
// (so that all but the smallest are resized, re-encoded and turned
// upright) and checks the server's tensor of the shrunk copy against the
// tensor torchvision made of the original: the shrink must keep what the
// model sees, EXIF orientation and alpha handling included.
func TestShrinkAgainstTorch(t *testing.T) {
	// Bounds in relative L2 from torch's tensor: the full-resolution path
	// lands within JPEG decoder noise (at most 0.0033 here); the shrunk
	// copy adds one resize and a JPEG round trip at quality 92. Measured
	// worst: 0.079 at 280 (the dog photo, whose fur is fine detail), 0.035
	// at DefaultShorter; an unrotated or wrong image is near 1.
	for _, size := range []struct {
		shorter int
		bound   float64
	}{{280, 0.09}, {DefaultShorter, 0.045}} {
		for _, name := range fixtureImages {
			t.Run(fmt.Sprint(size.shorter, "/", name), func(t *testing.T) { shrinkCase(t, name, size.shorter, size.bound) })
		}
	}
}

func shrinkCase(t *testing.T, name string, shorter int, bound float64) {
	data := testsupport.ReadFixture(t, "images", name)
	want := testsupport.ReadF32(t, testsupport.Fixtures(t, "preprocess", name+".f32"))
	s, err := Shrink(data, shorter, DefaultQuality, 0)
	if err != nil {
		t.Fatal(err)
	}
	full := prepare(t, data)
	small := prepare(t, s.Data)
	info, _, _ := image.DecodeConfig(bytes.NewReader(s.Data))
	if s.Resized && (info.Width < info.Height) != (s.Width < s.Height) {
		t.Errorf("shrunk copy is %dx%d, the upright original %dx%d", info.Width, info.Height, s.Width, s.Height)
	}
	errFull, errSmall := testsupport.RelL2(full, want), testsupport.RelL2(small, want)
	t.Logf("resized=%v full %.4f shrunk %.4f, %d -> %d bytes", s.Resized, errFull, errSmall, len(data), len(s.Data))
	if errSmall > bound {
		t.Errorf("shrunk copy's tensor is %.4f (relative L2) from torch's, full resolution %.4f", errSmall, errFull)
	}
}

// TestShrink12MP checks that a 12 MP photo-like image travels as well
// under 300 KB.
func TestShrink12MP(t *testing.T) {
	data := testsupport.Photo(t, 4000, 3000)
	s, err := Shrink(data, DefaultShorter, DefaultQuality, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("12 MP: %d -> %d bytes", len(data), len(s.Data))
	if !s.Resized || len(s.Data) > 300<<10 || s.Width != 4000 || s.Height != 3000 {
		t.Errorf("shrunk to %d bytes, resized %v, %dx%d", len(s.Data), s.Resized, s.Width, s.Height)
	}
}

func prepare(t *testing.T, data []byte) []float32 {
	t.Helper()
	dst := make([]float32, 3*224*224)
	if _, err := imageprep.Prepare(data, imageprep.Config{}, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestAWSHost(t *testing.T) {
	for _, tc := range []struct{ host, service, region string }{
		{"abc123.execute-api.eu-west-1.amazonaws.com", "execute-api", "eu-west-1"},
		{"abc123.execute-api.cn-north-1.amazonaws.com.cn", "execute-api", "cn-north-1"},
		{"ABC.lambda-url.us-east-2.on.aws", "lambda", "us-east-2"},
		{"abc.lambda-url.us-east-2.on.aws:443", "lambda", "us-east-2"},
		{"127.0.0.1:8080", "", ""},
		{"execute-api.example.com", "", ""},
		{"api.example.com", "", ""},
	} {
		s, r, ok := AWSHost(tc.host)
		if s != tc.service || r != tc.region || ok != (tc.service != "") {
			t.Errorf("AWSHost(%q) = %q %q %v", tc.host, s, r, ok)
		}
	}
}

// FuzzOrientation feeds JPEG-like and TIFF-like bytes to the EXIF reader:
// it never panics and answers 1 to 8. And a round trip: an orientation
// value written into IFD0 (after other entries, either byte order) of a
// TIFF file and of a JPEG's APP1 Exif segment reads back as itself when it
// is 1 to 8, and as 1 otherwise.
func FuzzOrientation(f *testing.F) {
	f.Add(testsupport.ReadFixture(f, "images", "exif-rot6-480x360.jpg"), uint16(6), false, uint8(0))
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08"), uint16(3), true, uint8(2))
	f.Add([]byte("II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00"), uint16(9), false, uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, o uint16, big bool, before uint8) {
		for _, format := range []string{imageprep.FormatJPEG, imageprep.FormatTIFF} {
			if o := imageprep.Orientation(format, data); o < 1 || o > 8 {
				t.Fatalf("orientation %d", o)
			}
		}
		want := int(o)
		if want < 1 || want > 8 {
			want = 1
		}
		tiff := exifIFD(o, big, int(before%8))
		if got := imageprep.Orientation(imageprep.FormatTIFF, tiff); got != want {
			t.Fatalf("TIFF with orientation %d (big endian %v, %d entries before): %d", o, big, before%8, got)
		}
		app1 := append([]byte("Exif\x00\x00"), tiff...)
		jpg := append([]byte{0xff, 0xd8, 0xff, 0xe0, 0, 4, 'J', 'F', 0xff, 0xe1, byte((len(app1) + 2) >> 8), byte(len(app1) + 2)}, app1...)
		jpg = append(jpg, 0xff, 0xda, 0, 2)
		if got := imageprep.Orientation(imageprep.FormatJPEG, jpg); got != want {
			t.Fatalf("JPEG with orientation %d (big endian %v, %d entries before): %d", o, big, before%8, got)
		}
	})
}

// exifIFD is a TIFF structure whose IFD0 holds n SHORT entries with tags
// below 0x0112 and then Orientation = o (TIFF 6.0: entries in tag order).
func exifIFD(o uint16, big bool, n int) []byte {
	var bo interface {
		binary.ByteOrder
		binary.AppendByteOrder
	} = binary.LittleEndian
	b := []byte("II*\x00")
	if big {
		bo, b = binary.BigEndian, []byte("MM\x00*")
	}
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, uint16(n+1))
	for i := range n + 1 {
		tag, v := uint16(0x0100+i), uint16(7)
		if i == n {
			tag, v = 0x0112, o
		}
		b = bo.AppendUint16(b, tag)
		b = bo.AppendUint16(b, 3) // SHORT
		b = bo.AppendUint32(b, 1)
		b = append(bo.AppendUint16(b, v), 0, 0)
	}
	return bo.AppendUint32(b, 0)
}

func TestOrientationFixture(t *testing.T) {
	if o := imageprep.Orientation(imageprep.FormatJPEG, testsupport.ReadFixture(t, "images", "exif-rot6-480x360.jpg")); o != 6 {
		t.Errorf("orientation %d, want 6 (the fixture's name)", o)
	}
}
