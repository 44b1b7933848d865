package httpapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseBody feeds request bodies of every content type to the parser:
// it never panics, never returns more than the limits allow, and every
// failure is a 400, 413 or 415 with a code.
func FuzzParseBody(f *testing.F) {
	img, err := os.ReadFile(filepath.Join("testdata", "tiny.png"))
	if err != nil {
		f.Fatal(err)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.SetBoundary("BOUNDARY")
	w, _ := mw.CreateFormFile("file", "a.png")
	w.Write(img)
	mw.WriteField("note", "hi")
	w, _ = mw.CreateFormFile("file2", "b.png")
	w.Write(img[:10])
	mw.Close()
	b64 := base64.StdEncoding.EncodeToString(img)
	for _, seed := range []struct {
		ct   string
		body []byte
	}{
		{"image/png", img},
		{"", img},
		{"application/octet-stream", nil},
		{"multipart/form-data; boundary=BOUNDARY", mp.Bytes()},
		{"multipart/form-data; boundary=BOUNDARY", mp.Bytes()[:mp.Len()/2]},
		{"multipart/form-data", []byte("--x\r\n")},
		{"application/json", []byte(`{"image":"` + b64 + `"}`)},
		{"application/json", []byte(`{"images":["` + b64 + `","AAAA","data:image/png;base64,` + b64 + `"]}`)},
		{"application/json", []byte(`{"images":[]}`)},
		{"application/json", []byte(`{"image":"-_-_"} `)},
		{"application/json", []byte(`[1,2]`)},
		{"application/json", []byte(`{"key":"uploads/abc"}`)},
		{"application/json", []byte(`{"s3_uri":"s3://b/uploads/abc","key":""}`)},
		{"text/plain", []byte("x")},
		{"application/x-www-form-urlencoded", img},
		{"application/x-www-form-urlencoded", []byte("a=b")},
		{"image/png; q=\"", img},
	} {
		f.Add(seed.ct, seed.body)
	}
	const maxBytes, maxImages = 4096, 4
	f.Fuzz(func(t *testing.T, ct string, data []byte) {
		b, err := parseBody(ct, bytes.NewReader(data), int64(len(data)), maxBytes, maxImages)
		if err != nil {
			var he *Error
			if !errors.As(err, &he) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			switch he.Status() {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			default:
				t.Fatalf("status %d for %v", he.Status(), err)
			}
			if he.Code == "" || he.Message == "" {
				t.Fatalf("error without code or message: %+v", he)
			}
			return
		}
		if b.Ref.set() { // an upload's key: no image in the body itself
			if len(b.Images) != 0 || b.List {
				t.Fatalf("a key with %d images", len(b.Images))
			}
			return
		}
		if len(b.Images) == 0 || len(b.Images) > maxImages {
			t.Fatalf("%d images", len(b.Images))
		}
		if !b.List && len(b.Images) != 1 {
			t.Fatalf("single response for %d images", len(b.Images))
		}
		total := 0
		for _, im := range b.Images {
			total += len(im)
		}
		if total > maxBytes {
			t.Fatalf("%d image bytes from a %d-byte limit", total, maxBytes)
		}
	})
}
