package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"slices"
	"testing"
)

// FuzzParseBodyRoundTrip encodes fuzzed images the ways a client sends
// them (raw bytes, JSON "image", JSON "images" with standard, URL-safe
// unpadded and data: URL base64, multipart files between text fields) and
// checks that parseBody gives back exactly those images, in order, and
// the list-or-single answer shape the encoding asks for.
func FuzzParseBodyRoundTrip(f *testing.F) {
	f.Add([]byte("\x89PNG\r\n\x1a\nabc"), []byte("\xff\xd8\xff\xe0xyz"), uint8(0), uint8(1))
	f.Add([]byte("a"), []byte("bb"), uint8(1), uint8(1))
	f.Add([]byte{0, 1, 2, 255}, []byte("--BOUNDARY\r\n"), uint8(2), uint8(3))
	f.Add([]byte("\r\n--x--\r\n"), []byte("\x00"), uint8(3), uint8(2))
	f.Add([]byte("one"), []byte("two"), uint8(3), uint8(1))
	f.Fuzz(func(t *testing.T, a, b []byte, mode, count uint8) {
		if len(a) == 0 {
			a = []byte{0}
		}
		if len(b) == 0 {
			b = []byte{1}
		}
		imgs := [][]byte{a, b, append(slices.Clone(b), a...)}[:1+int(count)%3]
		if mode%4 < 2 { // raw and JSON "image" carry one
			imgs = imgs[:1]
		}
		ct, body, list := encodeImages(t, imgs, mode%4)
		got, err := parseBody(ct, bytes.NewReader(body), int64(len(body)), 1<<20, 4)
		if err != nil {
			t.Fatalf("mode %d, %d images: %v", mode%4, len(imgs), err)
		}
		if got.List != list || len(got.Images) != len(imgs) {
			t.Fatalf("mode %d: %d images list=%v, want %d list=%v", mode%4, len(got.Images), got.List, len(imgs), list)
		}
		for i := range imgs {
			if !bytes.Equal(got.Images[i], imgs[i]) {
				t.Fatalf("mode %d image %d: %q, want %q", mode%4, i, got.Images[i], imgs[i])
			}
		}
	})
}

// encodeImages writes a request body holding imgs  and says whether the answer is a list.
func encodeImages(t *testing.T, imgs [][]byte, mode uint8) (ct string, body []byte, list bool) {
	t.Helper()
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	switch mode {
	case 0:
		return "application/octet-stream", imgs[0], false
	case 1:
		return "application/json", js(map[string]string{"image": base64.StdEncoding.EncodeToString(imgs[0])}), false
	case 2:
		var enc []string
		for i, img := range imgs {
			switch i % 3 {
			case 0:
				enc = append(enc, base64.StdEncoding.EncodeToString(img))
			case 1:
				enc = append(enc, base64.RawURLEncoding.EncodeToString(img))
			case 2:
				enc = append(enc, "data:image/png;base64,"+base64.StdEncoding.EncodeToString(img))
			}
		}
		return "application/json", js(map[string][]string{"images": enc}), true
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, img := range imgs {
		if err := mw.WriteField(fmt.Sprintf("note%d", i), "a text field, not an image"); err != nil {
			t.Fatal(err)
		}
		w, err := mw.CreateFormFile("file", fmt.Sprintf("%d.jpg", i))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(img) //nolint:errcheck // a bytes.Buffer
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes(), len(imgs) > 1
}
