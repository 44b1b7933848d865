package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
)

// parseTopK reads ?top_k= (1 to api.MaxTopK); def when absent.
func parseTopK(q url.Values, def int) (int, error) {
	s := q.Get("top_k")
	if s == "" {
		return def, nil
	}
	k, err := strconv.Atoi(s)
	if err == nil {
		err = api.CheckTopK(k)
	}
	if err != nil {
		return 0, Errorf(api.CodeBadRequest, "top_k must be an integer from 1 to %d, got %q", api.MaxTopK, s)
	}
	return k, nil
}

// body is what a /predict request carries.
type body struct {
	Images [][]byte
	// List is true when the response is a list: several multipart files or
	// a JSON "images" array (even of one).
	List bool
	// Ref names an uploaded object instead (JSON "key" or "s3_uri").
	Ref objectRef
}

// parseBody reads the images of a /predict request body. It reads at most
// maxBytes bytes and returns at most maxImages images; the image format is
// left to the engine (magic bytes), never taken from a header. sizeHint is
// the Content-Length, or -1.
func parseBody(contentType string, r io.Reader, sizeHint, maxBytes int64, maxImages int) (body, error) {
	lr := &limitReader{r: r, n: maxBytes}
	mt, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = "application/octet-stream", nil
	}
	if err != nil {
		return body{}, &Error{Code: api.CodeUnsupportedMedia,
			Message: fmt.Sprintf("bad Content-Type %q: %v", contentType, err), Err: err}
	}
	var b body
	switch {
	case isRawType(mt):
		data, err := readAll(lr, sizeHint, maxBytes)
		if err != nil {
			return body{}, readError(err, maxBytes)
		}
		b.Images = [][]byte{data}
	case mt == "multipart/form-data":
		b, err = parseMultipart(lr, params["boundary"], maxImages)
		if err != nil {
			return body{}, readError(err, maxBytes)
		}
	case mt == "application/x-www-form-urlencoded":
		// curl --data-binary sends this by default: take the body as the
		// image when it starts like one, refuse a real form.
		data, err := readAll(lr, sizeHint, maxBytes)
		if err != nil {
			return body{}, readError(err, maxBytes)
		}
		if format, _ := imageprep.Sniff(data); format == "" {
			return body{}, Errorf(api.CodeUnsupportedMedia,
				"a form is not an image: send the image as image/*, application/octet-stream, multipart/form-data or application/json {\"image\": \"<base64>\"}")
		}
		b.Images = [][]byte{data}
	case mt == "application/json":
		b, err = parseJSON(lr, maxImages)
		if err != nil {
			return body{}, readError(err, maxBytes)
		}
	default:
		return body{}, Errorf(api.CodeUnsupportedMedia,
			"unsupported Content-Type %q: send the image as image/*, application/octet-stream, multipart/form-data or application/json {\"image\": \"<base64>\"}", mt)
	}
	return b, nil
}

// isRawType reports whether the body is the image itself. application/jpeg
// is what the original sample's clients send, binary/octet-stream what S3
// tools label unknown files with.
func isRawType(mt string) bool {
	switch {
	case strings.HasPrefix(mt, "image/"):
		return true
	case mt == "application/octet-stream", mt == "binary/octet-stream", mt == "application/jpeg":
		return true
	}
	return false
}

func parseMultipart(r io.Reader, boundary string, maxImages int) (body, error) {
	if boundary == "" {
		return body{}, Errorf(api.CodeBadRequest, "multipart/form-data without a boundary")
	}
	mr := multipart.NewReader(r, boundary)
	var b body
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return body{}, badBody("multipart", err)
		}
		if !isFilePart(p) {
			// A plain form field (a text value): not an image.
			if _, err := io.Copy(io.Discard, p); err != nil {
				return body{}, badBody("multipart", err)
			}
			continue
		}
		if len(b.Images) == maxImages {
			return body{}, tooManyImages(maxImages)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return body{}, badBody("multipart", err)
		}
		b.Images = append(b.Images, data)
	}
	if len(b.Images) == 0 {
		return body{}, Errorf(api.CodeNoImage, "multipart body has no file part")
	}
	b.List = len(b.Images) > 1
	return b, nil
}

// isFilePart reports whether a multipart part is an uploaded file: it has a
// file name, or a Content-Type other than text.
func isFilePart(p *multipart.Part) bool {
	if p.FileName() != "" {
		return true
	}
	ct := p.Header.Get("Content-Type")
	return ct != "" && !strings.HasPrefix(ct, "text/")
}

// jsonBody is the application/json request: exactly one of the fields.
type jsonBody struct {
	Image  *string  `json:"image"`
	Images []string `json:"images"`
	Key    *string  `json:"key"`    // an object under the upload prefix
	S3URI  *string  `json:"s3_uri"` // the same as s3://<upload bucket>/<key>
}

func parseJSON(r io.Reader, maxImages int) (body, error) {
	var jb jsonBody
	dec := json.NewDecoder(r)
	if err := dec.Decode(&jb); err != nil {
		if isTooLarge(err) {
			return body{}, err
		}
		return body{}, &Error{Code: api.CodeBadRequest, Message: jsonMessage(err), Err: err}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil || !isTooLarge(err) {
			return body{}, Errorf(api.CodeBadRequest, "json: data after the object")
		}
		return body{}, err
	}
	if n := countSet(jb.Image != nil, jb.Images != nil, jb.Key != nil, jb.S3URI != nil); n > 1 {
		return body{}, Errorf(api.CodeBadRequest, `json: give one of "image", "images", "key" or "s3_uri"`)
	}
	var b body
	switch {
	case jb.Key != nil || jb.S3URI != nil:
		b.Ref = objectRef{Key: deref(jb.Key), S3URI: deref(jb.S3URI)}
		if !b.Ref.set() {
			return body{}, Errorf(api.CodeBadRequest, `json: "key" or "s3_uri" is empty`)
		}
	case jb.Image != nil:
		data, err := api.DecodeBase64(*jb.Image)
		if err != nil {
			return body{}, Errorf(api.CodeBadRequest, "json image: %v", err)
		}
		b.Images = [][]byte{data}
	case len(jb.Images) > maxImages:
		return body{}, tooManyImages(maxImages)
	case len(jb.Images) > 0:
		b.List = true
		for i, s := range jb.Images {
			data, err := api.DecodeBase64(s)
			if err != nil {
				return body{}, Errorf(api.CodeBadRequest, "json images[%d]: %v", i, err)
			}
			b.Images = append(b.Images, data)
		}
	default:
		return body{}, Errorf(api.CodeNoImage, `json body has no "image", "images", "key" or "s3_uri"`)
	}
	return b, nil
}

// jsonMessage says what is wrong with a JSON body in the client's terms
// (encoding/json's type errors name our Go types).
func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return "json: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	switch field, _, _ := strings.Cut(te.Field, "."); field {
	case "image":
		return fmt.Sprintf(`json: "image" must be a base64 string, got a %s`, te.Value)
	case "images":
		return fmt.Sprintf(`json: "images" must be a list of base64 strings, got a %s`, te.Value)
	}
	return fmt.Sprintf(`json: the body must be an object, {"image": "<base64>"} or {"images": [...]}, got a %s`, te.Value)
}

func tooManyImages(max int) *Error {
	return Errorf(api.CodeTooManyImages, "too many images in one request: the limit is %d", max)
}

func badBody(kind string, err error) error {
	if isTooLarge(err) {
		return err
	}
	return &Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("%s: %v", kind, err), Err: err}
}

// readError turns a body read error into its response: 413 when over the
// limit, 400 otherwise.
func readError(err error, maxBytes int64) error {
	if isTooLarge(err) {
		return &Error{Code: api.CodeBodyTooLarge, Message: fmt.Sprintf("request body exceeds the limit of %d bytes", maxBytes), Err: err}
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: api.CodeBadRequest, Message: fmt.Sprintf("read body: %v", err), Err: err}
}

// errBodyTooLarge is returned by limitReader past its limit.
var errBodyTooLarge = errors.New("request body too large")

func isTooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.Is(err, errBodyTooLarge) || errors.As(err, &mb)
}

// limitReader reads at most n bytes and fails with errBodyTooLarge (rather
// than a silent EOF) when there is more.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Probe one byte: at exactly the limit the body may be complete.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// readAll reads r into a buffer that grows as bytes arrive: the declared
// Content-Length (sizeHint) only sizes the first 64 KiB, so a client that
// declares 10 MB and sends one byte costs one small buffer, not 10 MB.
func readAll(r io.Reader, sizeHint, maxBytes int64) ([]byte, error) {
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint <= maxBytes {
		buf.Grow(int(min(sizeHint, 64<<10)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
