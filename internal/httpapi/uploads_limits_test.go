package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// memStore is an in-memory ObjectStore that records the presign calls.
type memStore struct {
	objects map[string][]byte
	header  http.Header
	expiry  time.Duration
}

func (s *memStore) PresignPut(_ context.Context, key string, _ int64, expiry time.Duration) (Presigned, error) {
	s.expiry = expiry
	return Presigned{Method: "PUT", URL: "http://store/" + key, Header: s.header}, nil
}

func (s *memStore) Open(_ context.Context, key string) (io.ReadCloser, int64, error) {
	b, ok := s.objects[key]
	if !ok {
		return nil, 0, ErrNoObject
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// TestUploadDefaultsAndLimit: zero MaxBytes and Expiry take the defaults
// (50 MiB, 5 minutes); an upload of exactly MaxBytes is read, one byte more
// is 413; signed headers reach the ticket, and none means no headers field.
func TestUploadDefaultsAndLimit(t *testing.T) {
	store := &memStore{objects: map[string][]byte{}}
	h := New(Options{Uploads: &Uploads{Bucket: "b", Store: store}}, &recClassifier{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/uploads", nil))
	var tk UploadTicket
	if err := json.Unmarshal(w.Body.Bytes(), &tk); err != nil || w.Code != 200 {
		t.Fatalf("uploads: %d %s", w.Code, w.Body)
	}
	if tk.MaxBytes != 50<<20 || store.expiry != 5*time.Minute || strings.Contains(w.Body.String(), `"headers"`) {
		t.Errorf("ticket %s, expiry %v: want max_bytes %d, 5m and no headers", w.Body, store.expiry, 50<<20)
	}
	store.header = http.Header{"X-Amz-Meta-A": {"1"}, "Host": {"store"}}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/uploads", nil))
	if err := json.Unmarshal(w.Body.Bytes(), &tk); err != nil || len(tk.Headers) != 1 || tk.Headers["X-Amz-Meta-A"] != "1" {
		t.Errorf("signed headers: %s", w.Body)
	}

	const limit = 10
	c := &recClassifier{}
	h = New(Options{Uploads: &Uploads{Bucket: "b", MaxBytes: limit, Store: store}}, c)
	for _, n := range []int{limit, limit + 1} {
		store.objects["uploads/k"] = bytes.Repeat([]byte{'u'}, n)
		w := post(t, h, "", "application/json", []byte(`{"key":"uploads/k"}`), -1)
		want := 200
		if n > limit {
			want = http.StatusRequestEntityTooLarge
		}
		if w.Code != want {
			t.Errorf("upload of %d bytes, limit %d: status %d, want %d (%s)", n, limit, w.Code, want, w.Body)
		}
		if want == 200 && (len(c.images) != 1 || len(c.images[0]) != n) {
			t.Errorf("upload of %d bytes: the classifier got %d images", n, len(c.images))
		}
	}
}

// TestResolveKeyLength: a key of maxKeyLen bytes is accepted, one more
// byte is refused.
func TestResolveKeyLength(t *testing.T) {
	u := (&Uploads{Bucket: "b"}).withDefaults()
	for _, n := range []int{maxKeyLen, maxKeyLen + 1} {
		key := u.Prefix + strings.Repeat("k", n-len(u.Prefix))
		_, err := u.resolve(objectRef{Key: key})
		if (err == nil) != (n <= maxKeyLen) {
			t.Errorf("key of %d bytes (limit %d): err %v", n, maxKeyLen, err)
		}
	}
}
