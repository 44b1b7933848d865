package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mlserve/mlserve/internal/api"
)

// Upload by URL: POST /uploads answers a short-lived presigned S3 PUT URL
// for a fresh key under the upload prefix; POST /predict with JSON
// {"key": ...} or {"s3_uri": ...} then classifies that object. Only keys
// under the prefix of the one upload bucket are read, so the endpoint is
// no way into the rest of the bucket. The object's size is checked against
// MaxBytes before its body is read; the engine's pixel limit then applies
// as to any image.

// Error codes of the upload flow.
const (
	CodeForbiddenKey     = "forbidden_key"    // a key outside the upload prefix or bucket
	CodeNoObject         = "no_object"        // nothing was uploaded under the key (or the URL expired unused)
	CodeObjectTooLarge   = "object_too_large" // the uploaded object is over the upload size cap
	CodeUploadsDisabled  = "uploads_disabled" // no upload bucket is configured
	defaultUploadPrefix  = "uploads/"         // MLSERVE_UPLOAD_PREFIX's default
	defaultUploadMax     = 50 << 20           // MLSERVE_UPLOAD_MAX_BYTES's default
	defaultUploadExpiry  = 5 * time.Minute    // MLSERVE_UPLOAD_EXPIRY's default
	maxUploadRequestBody = 4 << 10            // the optional JSON of POST /uploads
	maxKeyLen            = 1024               // S3's longest key
	uploadKeyRandomBytes = 16                 // 128 random bits per key
	uploadKeyHexLen      = 2 * uploadKeyRandomBytes
)

// uploadHint ends the message of a body over the limit when uploads are on.
const uploadHint = `upload large images instead: POST /uploads answers a presigned URL, PUT the image there, then POST /predict {"key": "<key>"} (mlserve classify --endpoint does this by itself)`

// ObjectStore is what the upload flow needs of the bucket.
type ObjectStore interface {
	// PresignPut returns a URL that PUTs key for expiry. size, when > 0,
	// is signed as the Content-Length the PUT must carry.
	PresignPut(ctx context.Context, key string, size int64, expiry time.Duration) (Presigned, error)
	// Open starts reading key; size is the object's length, known before
	// its body is read. A missing object is ErrNoObject.
	Open(ctx context.Context, key string) (body io.ReadCloser, size int64, err error)
}

// ErrNoObject is an ObjectStore's missing object.
var ErrNoObject = errors.New("no such object")

// Presigned is a request the client sends as is.
type Presigned struct {
	Method string
	URL    string
	Header http.Header // headers the signature covers (Host excluded)
}

// Uploads configures the upload flow; nil Options.Uploads disables it.
type Uploads struct {
	Bucket   string        // the upload bucket (for s3_uri and the answer)
	Prefix   string        // key prefix of uploads ("uploads/")
	MaxBytes int64         // largest object predict reads (50 MiB)
	Expiry   time.Duration // lifetime of a presigned URL (5m)
	Store    ObjectStore
}

func (u *Uploads) withDefaults() *Uploads {
	if u == nil {
		return nil
	}
	c := *u
	if c.Prefix == "" {
		c.Prefix = defaultUploadPrefix
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = defaultUploadMax
	}
	if c.Expiry <= 0 {
		c.Expiry = defaultUploadExpiry
	}
	return &c
}

// UploadRequest is the optional JSON body of POST /uploads.
type UploadRequest struct {
	// Size is the byte length the client will PUT: over the cap it is
	// refused now, and S3 refuses a PUT of another length.
	Size int64 `json:"size,omitempty"`
}

// UploadTicket is the answer of POST /uploads.
type UploadTicket struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	Key       string            `json:"key"`
	S3URI     string            `json:"s3_uri"`
	MaxBytes  int64             `json:"max_bytes"`
	ExpiresAt time.Time         `json:"expires_at"`
}

func (h *Handler) uploads(w http.ResponseWriter, r *http.Request) {
	u := h.opts.Uploads
	if u == nil {
		writeError(w, uploadsDisabled())
		return
	}
	var req UploadRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUploadRequestBody))
	if err != nil {
		WriteError(w, readError(err, maxUploadRequestBody))
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, Errorf(api.CodeBadRequest, `uploads: want an empty body or JSON {"size": <bytes>}: %v`, err))
			return
		}
	}
	switch {
	case req.Size < 0:
		writeError(w, Errorf(api.CodeBadRequest, "uploads: size must be positive, got %d", req.Size))
		return
	case req.Size > u.MaxBytes:
		writeError(w, tooLargeUpload(req.Size, u.MaxBytes))
		return
	}
	key := u.Prefix + randomHex()
	p, err := u.Store.PresignPut(r.Context(), key, req.Size, u.Expiry)
	if err != nil {
		WriteError(w, fmt.Errorf("presign %s: %w", key, err))
		return
	}
	t := UploadTicket{Method: p.Method, URL: p.URL, Key: key, S3URI: "s3://" + u.Bucket + "/" + key,
		MaxBytes: u.MaxBytes, ExpiresAt: time.Now().Add(u.Expiry).UTC().Truncate(time.Second)}
	if len(p.Header) > 0 {
		t.Headers = singleValues(p.Header)
	}
	WriteJSON(w, http.StatusOK, t)
}

func singleValues(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		if !strings.EqualFold(k, "Host") {
			m[k] = strings.Join(v, ",")
		}
	}
	return m
}

func randomHex() string {
	var b [uploadKeyRandomBytes]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// readUpload reads the object a /predict body names by key or s3_uri.
func (h *Handler) readUpload(ctx context.Context, ref objectRef) ([]byte, error) {
	u := h.opts.Uploads
	if u == nil {
		return nil, uploadsDisabled()
	}
	key, err := u.resolve(ref)
	if err != nil {
		return nil, err
	}
	rc, size, err := u.Store.Open(ctx, key)
	if errors.Is(err, ErrNoObject) {
		return nil, &Error{Code: CodeNoObject, Message: fmt.Sprintf("nothing was uploaded to %s (or it is not readable): PUT the image to the URL POST /uploads answered first", key), Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	if size > u.MaxBytes {
		return nil, tooLargeUpload(size, u.MaxBytes)
	}
	// The size is the store's word; read one byte more to be sure of it.
	data, err := readAll(&limitReader{r: rc, n: u.MaxBytes}, size, u.MaxBytes)
	if isTooLarge(err) {
		return nil, tooLargeUpload(u.MaxBytes+1, u.MaxBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return data, nil
}

// resolve checks that ref names an object under the upload prefix of the
// upload bucket and returns its key.
func (u *Uploads) resolve(ref objectRef) (string, error) {
	key := ref.Key
	if ref.S3URI != "" {
		rest, ok := strings.CutPrefix(ref.S3URI, "s3://")
		bucket, k, found := strings.Cut(rest, "/")
		if !ok || !found || bucket == "" {
			return "", Errorf(api.CodeBadRequest, `s3_uri must look like s3://<bucket>/<key>, got %q`, ref.S3URI)
		}
		if bucket != u.Bucket {
			return "", Errorf(CodeForbiddenKey, "s3_uri %q: only objects of the upload bucket %q may be classified", ref.S3URI, u.Bucket)
		}
		key = k
	}
	if key == "" || len(key) > maxKeyLen {
		return "", Errorf(api.CodeBadRequest, "key must be 1 to %d bytes", maxKeyLen)
	}
	rest, ok := strings.CutPrefix(key, u.Prefix)
	if !ok || rest == "" || strings.Contains(key, "//") || hasDotSegment(key) {
		return "", Errorf(CodeForbiddenKey, "key %q: only keys under %q (as POST /uploads answers them) may be classified", key, u.Prefix)
	}
	return key, nil
}

func hasDotSegment(key string) bool {
	for _, s := range strings.Split(key, "/") {
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

func tooLargeUpload(size, max int64) *Error {
	return Errorf(CodeObjectTooLarge, "upload of %d bytes exceeds the upload limit of %d bytes", size, max)
}

func uploadsDisabled() *Error {
	return Errorf(CodeUploadsDisabled, "uploads are not enabled here: no upload bucket is configured (MLSERVE_UPLOAD_BUCKET)")
}

// objectRef is a /predict body's {"key"} or {"s3_uri"}.
type objectRef struct{ Key, S3URI string }

func (r objectRef) set() bool { return r.Key != "" || r.S3URI != "" }

func countSet(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
