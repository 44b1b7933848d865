// Package client sends images to a deployed or local mlserve endpoint
// (`mlserve serve`, API Gateway, a Function URL) instead of classifying
// them locally: `mlserve classify --endpoint URL`. It does the cheap part
// on the client: each image is shrunk to what the model needs (Shrink), so
// a 12 MP photo travels as about 100 KB, and an image still over the
// inline limit goes through the upload flow (POST /uploads, a PUT to the
// presigned S3 URL, then /predict by key) instead of Lambda's payload
// limit. Requests are signed by an Auth (SigV4, a bearer token) or not.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/httpapi"
	"github.com/mlserve/mlserve/internal/infer"
)

// Defaults of Options.
const (
	// DefaultShorter is twice the default model's resize target (256):
	// enough that the server's own antialiased resize still does the last
	// step, as it does for a full-size image.
	DefaultShorter = 512
	DefaultQuality = 92
	// DefaultMaxInline keeps a request under what reaches a Lambda
	// function: 6 MB per synchronous invoke, and API Gateway sends the
	// body base64-encoded (4/3) inside the event JSON.
	DefaultMaxInline = 4_000_000
	maxAnswerBytes   = 4 << 20
)

// Options configure a Client; zero fields take the defaults.
type Options struct {
	Endpoint string       // base URL: http://127.0.0.1:8080, https://<id>.execute-api.<region>.amazonaws.com[/stage]
	Auth     Auth         // nil: no authorization
	HTTP     *http.Client // http.DefaultClient
	TopK     int          // 0: the server's default
	Shorter  int          // shorter side images are shrunk to (DefaultShorter)
	Quality  int          // JPEG quality of shrunk images (DefaultQuality)
	// MaxInline is the largest body sent to /predict; larger images go
	// through the upload flow (DefaultMaxInline).
	MaxInline int64
	MaxPixels int // the client's decoder pixel limit (imageprep's default)
	// FullResolution sends images unchanged, so that the server's
	// preprocessing sees every pixel.
	FullResolution bool
}

// Client talks to one endpoint. It is safe for concurrent use.
type Client struct {
	opts Options
	base string // scheme://host[/stage], without a trailing slash
}

// New returns a client of opts.Endpoint.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want an http:// or https:// URL", opts.Endpoint)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/predict")
	u.RawQuery, u.Fragment = "", ""
	if opts.HTTP == nil {
		opts.HTTP = http.DefaultClient
	}
	if opts.Shorter <= 0 {
		opts.Shorter = DefaultShorter
	}
	if opts.Quality <= 0 {
		opts.Quality = DefaultQuality
	}
	if opts.MaxInline <= 0 {
		opts.MaxInline = DefaultMaxInline
	}
	return &Client{opts: opts, base: u.String()}, nil
}

// Sent says how an image travelled.
type Sent struct {
	Bytes    int64 // image bytes sent
	Resized  bool  // a shrunk copy was sent
	Uploaded bool  // through the upload flow
}

// Error is the endpoint's answer to a failed request.
type Error struct {
	Status  int
	Code    string // the mlserve error code, or http_<status> for a gateway's own error
	Message string

	retryAfter time.Duration // the answer's Retry-After
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// Classify sends one image and returns its result. The result's image
// size and format are those of data (after EXIF orientation), not of the
// shrunk copy.
func (c *Client) Classify(ctx context.Context, data []byte) (api.Result, Sent, error) {
	payload := data
	var shrunk *Shrunk
	if !c.opts.FullResolution {
		// An image the client cannot decode goes as is: the server
		// decodes more, or says why it cannot.
		if s, err := Shrink(data, c.opts.Shorter, c.opts.Quality, c.opts.MaxPixels); err == nil {
			shrunk, payload = &s, s.Data
		}
	}
	sent := Sent{Bytes: int64(len(payload)), Resized: shrunk != nil && shrunk.Resized}
	var r api.Result
	var err error
	if int64(len(payload)) <= c.opts.MaxInline {
		r, err = c.predictInline(ctx, payload)
	}
	if int64(len(payload)) > c.opts.MaxInline || bodyRefused(err) {
		sent.Uploaded = true
		r, err = c.predictUpload(ctx, payload)
	}
	if err != nil {
		return api.Result{}, sent, err
	}
	if shrunk != nil && r.Image != nil {
		r.Image = &infer.ImageInfo{Width: shrunk.Width, Height: shrunk.Height, Format: shrunk.Format}
	}
	return r, sent, nil
}

// bodyRefused reports whether the endpoint (or a gateway before it) refused
// a body for its size: the upload flow takes it.
func bodyRefused(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusRequestEntityTooLarge &&
		(e.Code == api.CodeBodyTooLarge || strings.HasPrefix(e.Code, "http_"))
}

func (c *Client) predictURL() string {
	u := c.base + "/predict"
	if c.opts.TopK > 0 {
		u += "?top_k=" + strconv.Itoa(c.opts.TopK)
	}
	return u
}

func (c *Client) predictInline(ctx context.Context, img []byte) (api.Result, error) {
	var r api.Result
	err := c.call(ctx, c.predictURL(), "application/octet-stream", img, &r)
	return r, err
}

// predictUpload asks for an upload URL, PUTs img there and classifies it
// by key.
func (c *Client) predictUpload(ctx context.Context, img []byte) (api.Result, error) {
	var t httpapi.UploadTicket
	req, _ := json.Marshal(httpapi.UploadRequest{Size: int64(len(img))})
	if err := c.call(ctx, c.base+"/uploads", "application/json", req, &t); err != nil {
		return api.Result{}, fmt.Errorf("upload: %w", err)
	}
	if err := c.put(ctx, t, img); err != nil {
		return api.Result{}, fmt.Errorf("upload to %s: %w", t.Key, err)
	}
	body, _ := json.Marshal(map[string]string{"key": t.Key})
	var r api.Result
	err := c.call(ctx, c.predictURL(), "application/json", body, &r)
	return r, err
}

// put sends img to the presigned URL: its signature is the authorization.
func (c *Client) put(ctx context.Context, t httpapi.UploadTicket, img []byte) error {
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL, bytes.NewReader(img))
	if err != nil {
		return err
	}
	for k, v := range t.Headers {
		if !strings.EqualFold(k, "Content-Length") { // set from the body
			req.Header.Set(k, v)
		}
	}
	resp, err := c.opts.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return &Error{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(b))}
	}
	return nil
}

// Retries of a request the endpoint answers 429 (API Gateway's throttle)
// or 503 (mlserve's overloaded or not_ready): the wait doubles from
// retryWait, or is the answer's Retry-After, at most maxRetryWait.
const (
	retries      = 3
	retryWait    = 500 * time.Millisecond
	maxRetryWait = 5 * time.Second
)

// call POSTs body to u and decodes a 200 answer into out, retrying a
// throttled or overloaded answer.
func (c *Client) call(ctx context.Context, u, contentType string, body []byte, out any) error {
	wait := retryWait
	for attempt := 0; ; attempt++ {
		err := c.callOnce(ctx, u, contentType, body, out)
		var e *Error
		if attempt == retries || !errors.As(err, &e) || (e.Status != http.StatusTooManyRequests && e.Status != http.StatusServiceUnavailable) {
			return err
		}
		d := wait
		if e.retryAfter > 0 {
			d = e.retryAfter
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(d, maxRetryWait)):
		}
		wait *= 2
	}
}

func (c *Client) callOnce(ctx context.Context, u, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if c.opts.Auth != nil {
		if err := c.opts.Auth.Authorize(ctx, req, body); err != nil {
			return err
		}
	}
	resp, err := c.opts.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		e := answerError(resp.StatusCode, b)
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
			e.retryAfter = time.Duration(secs) * time.Second
		}
		return e
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// answerError is mlserve's {"error": {...}}, or a gateway's own answer
// ({"message": "Forbidden"}, text).
func answerError(status int, b []byte) *Error {
	var eb api.ErrorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		return &Error{Status: status, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	msg := strings.TrimSpace(string(b))
	var gw struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &gw) == nil && gw.Message != "" {
		msg = gw.Message
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Status: status, Code: "http_" + strconv.Itoa(status), Message: msg}
}
