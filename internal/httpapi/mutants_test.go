package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
)

// These tests pin behaviour that mutation testing (make mutation) found no
// test for: defaults, limits at their exact value, the shape of answers.

// recClassifier records what the handler asks and fails the images whose
// bytes are keys of errs.
type recClassifier struct {
	classes int
	errs    map[string]error
	topK    int
	images  [][]byte
}

func (c *recClassifier) Accept() (int, error) { return c.classes, nil }
func (c *recClassifier) Classify(_ context.Context, images [][]byte, topK int) ([]api.Result, []error) {
	c.topK, c.images = topK, images
	rs, errs := make([]api.Result, len(images)), make([]error, len(images))
	for i, img := range images {
		rs[i].Model = "m"
		errs[i] = c.errs[string(img)]
	}
	return rs, errs
}

// post sends body to /predict; length < 0 hides the length (chunked).
func post(t *testing.T, h http.Handler, query, ct string, body []byte, length int64) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if length < 0 {
		r = io.MultiReader(r) // no Len: httptest leaves ContentLength at -1
	}
	req := httptest.NewRequest("POST", "/predict"+query, r)
	req.ContentLength = length
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestTopKDefaultAndCap(t *testing.T) {
	tests := []struct {
		classes int
		query   string
		want    int
	}{
		{0, "", 5},         // Options.TopK zero: 5
		{0, "?top_k=7", 7}, // classes unknown: no cap
		{3, "?top_k=5", 3}, // capped to the model's classes
		{3, "?top_k=3", 3}, // at the cap
		{3, "?top_k=2", 2}, // under it
		{1000, "", 5},      // the default under the cap
	}
	for _, tt := range tests {
		c := &recClassifier{classes: tt.classes}
		if w := post(t, New(Options{}, c), tt.query, "image/png", []byte("x"), 1); w.Code != 200 {
			t.Fatalf("%+v: status %d %s", tt, w.Code, w.Body)
		}
		if c.topK != tt.want {
			t.Errorf("classes %d %q: top_k %d, want %d", tt.classes, tt.query, c.topK, tt.want)
		}
	}
}

// TestBodyLimitExact: a body of exactly MaxBodyBytes is read whole; one
// byte more is 413, whether the length is declared or not.
func TestBodyLimitExact(t *testing.T) {
	const limit = 100
	for _, declared := range []bool{true, false} {
		for _, n := range []int{limit - 1, limit, limit + 1} {
			c := &recClassifier{}
			body := bytes.Repeat([]byte{'a'}, n)
			length := int64(n)
			if !declared {
				length = -1
			}
			w := post(t, New(Options{MaxBodyBytes: limit}, c), "", "application/octet-stream", body, length)
			want := 200
			if n > limit {
				want = http.StatusRequestEntityTooLarge
			}
			if w.Code != want {
				t.Errorf("declared %v, %d bytes: status %d, want %d (%s)", declared, n, w.Code, want, w.Body)
			}
			if want == 200 && (len(c.images) != 1 || !bytes.Equal(c.images[0], body)) {
				t.Errorf("declared %v, %d bytes: the classifier got %d images", declared, n, len(c.images))
			}
		}
	}
}

// TestJSONTrailing: data after the JSON object is 400, but a body that
// runs over the limit there is 413.
func TestJSONTrailing(t *testing.T) {
	obj := `{"image":"AAAA"}`
	tests := []struct {
		body string
		want int
	}{
		{obj, 200},
		{obj + "\n", 200},
		{obj + ` {}`, 400},
		{obj + strings.Repeat(" ", 100), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		w := post(t, New(Options{MaxBodyBytes: 64}, &recClassifier{}), "", "application/json", []byte(tt.body), -1)
		if w.Code != tt.want {
			t.Errorf("%q: status %d, want %d (%s)", tt.body, w.Code, tt.want, w.Body)
		}
	}
}

type part struct {
	name, filename, ct, body string
}

func multipartOf(t *testing.T, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.ct != "" {
			h.Set("Content-Type", p.ct)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.body) //nolint:errcheck // a bytes.Buffer
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// TestMultipartParts: which parts are files, and one file answers with a
// single result, two with a list.
func TestMultipartParts(t *testing.T) {
	tests := []struct {
		name   string
		parts  []part
		images []string // what the classifier gets; nil: 400 no image
		list   bool
	}{
		{"one file", []part{{"f", "a.jpg", "", "A"}}, []string{"A"}, false},
		{"two files", []part{{"f", "a.jpg", "", "A"}, {"g", "b.jpg", "image/jpeg", "B"}}, []string{"A", "B"}, true},
		{"no filename, image type", []part{{"f", "", "image/png", "P"}}, []string{"P"}, false},
		{"no filename, octet-stream", []part{{"f", "", "application/octet-stream", "O"}}, []string{"O"}, false},
		{"filename, text type", []part{{"f", "notes.txt", "text/plain", "T"}}, []string{"T"}, false},
		{"fields are not files", []part{{"note", "", "", "hi"}, {"f", "a.jpg", "", "A"}, {"csv", "", "text/csv", "1,2"}}, []string{"A"}, false},
		{"only fields", []part{{"note", "", "", "hi"}, {"csv", "", "text/csv", "1,2"}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &recClassifier{}
			ct, body := multipartOf(t, tt.parts...)
			w := post(t, New(Options{}, c), "", ct, body, int64(len(body)))
			if tt.images == nil {
				if w.Code != 400 || !strings.Contains(w.Body.String(), api.CodeNoImage) {
					t.Fatalf("status %d %s, want 400 %s", w.Code, w.Body, api.CodeNoImage)
				}
				return
			}
			if w.Code != 200 {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			var got []string
			for _, img := range c.images {
				got = append(got, string(img))
			}
			if strings.Join(got, ",") != strings.Join(tt.images, ",") {
				t.Errorf("images %q, want %q", got, tt.images)
			}
			if isList := strings.HasPrefix(w.Body.String(), "["); isList != tt.list {
				t.Errorf("answer %s: list %v, want %v", w.Body, isList, tt.list)
			}
		})
	}
}

// TestListFailures: in a list, a bad image is a per-item error and the
// request is 200; a failure of the server (500) fails the whole request.
func TestListFailures(t *testing.T) {
	c := &recClassifier{errs: map[string]error{
		"bad":  &imageprep.Error{Code: imageprep.CodeCorrupt, Err: errors.New("broken")},
		"huge": &imageprep.Error{Code: imageprep.CodeTooLarge, Err: errors.New("too many pixels")},
		"boom": errors.New("engine exploded"),
	}}
	h := New(Options{}, c)
	list := func(imgs ...string) []byte {
		var enc []string
		for _, s := range imgs {
			enc = append(enc, base64.StdEncoding.EncodeToString([]byte(s)))
		}
		b, _ := json.Marshal(map[string][]string{"images": enc})
		return b
	}
	w := post(t, h, "", "application/json", list("ok", "bad", "huge"), -1)
	if w.Code != 200 {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	var rs []api.Result
	if err := json.Unmarshal(w.Body.Bytes(), &rs); err != nil || len(rs) != 3 {
		t.Fatalf("%v: %s", err, w.Body)
	}
	if rs[0].Error != nil || rs[1].Error == nil || rs[1].Error.Code != imageprep.CodeCorrupt || rs[2].Error == nil {
		t.Errorf("results %s", w.Body)
	}
	// The default pixel limit is named in a too-large image's message.
	if want := fmt.Sprint(imageprep.DefaultMaxPixels); rs[2].Error == nil || !strings.Contains(rs[2].Error.Message, want) {
		t.Errorf("too-large message %+v does not name the limit %s", rs[2].Error, want)
	}
	if w := post(t, h, "", "application/json", list("ok", "boom"), -1); w.Code != 500 {
		t.Errorf("a server failure in a list: status %d %s, want 500", w.Code, w.Body)
	}
}

// TestAllow: a known path with another method is 405 naming the methods;
// GET routes also answer HEAD, POST routes do not.
func TestAllow(t *testing.T) {
	h := New(Options{}, &recClassifier{})
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/predict", 405, "POST"},
		{"HEAD", "/predict", 405, "POST"},
		{"POST", "/openapi.json", 405, "GET, HEAD"},
		{"HEAD", "/openapi.json", 200, ""},
		{"GET", "/openapi.json", 200, ""},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.status || w.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", tt.method, tt.path, w.Code, w.Header().Get("Allow"), tt.status, tt.allow)
		}
	}
}
