package lambdaadapter

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/httpapi"
	"github.com/mlserve/mlserve/internal/infer"
)

// The HTTP events (API Gateway REST v1, HTTP API v2, Function URLs) become
// *http.Request and are served by the same httpapi.Handler as `mlserve
// serve`; the response goes back in the event's response type.

// newAPI returns the HTTP API in front of the handler's classifier.
func (h *Handler) newAPI() *httpapi.Handler {
	return httpapi.New(httpapi.Options{
		TopK:         h.cfg.TopK,
		MaxBodyBytes: int64(h.cfg.MaxPayload),
		BodyLimitHint: fmt.Sprintf("it is over AWS Lambda's (6 MB) synchronous payload limit (base64 adds a third); "+
			"for large images or many of them upload to the bucket's %q prefix, which runs them as an AWS Batch job with results under %q",
			h.cfg.InputPrefix, h.cfg.OutputPrefix),
		ImageErrorHint: textBodyHint,
		Uploads:        h.cfg.Uploads,
	}, apiClassifier{h.clf})
}

// apiClassifier is the Lambda's Classifier as httpapi wants it.
type apiClassifier struct{ clf Classifier }

// Accept refuses every request of a function without a model; top_k is
// capped to the model's classes when the classifier describes its model.
func (c apiClassifier) Accept() (int, error) {
	if c.clf == nil {
		return 0, httpapi.Errorf(api.CodeSubmitOnly, "%s", errSubmitOnly)
	}
	if m, ok := c.clf.(interface{ Info() infer.ModelInfo }); ok {
		return m.Info().Classes, nil
	}
	return 0, nil
}

func (c apiClassifier) Classify(ctx context.Context, images [][]byte, topK int) ([]api.Result, []error) {
	res := api.FromEngineAll(c.clf.Classify(ctx, images, topK))
	errs := make([]error, len(images))
	if len(res) != len(images) {
		err := httpapi.Errorf(infer.CodeInternal, "engine returned %d results for %d images", len(res), len(images))
		res = make([]api.Result, len(images))
		for i := range errs {
			errs[i] = err
		}
		return res, errs
	}
	for i, r := range res {
		switch {
		case r.Error == nil:
		case ctx.Err() != nil: // the deadline, not the image: 504
			errs[i] = ctx.Err()
		default:
			errs[i] = httpapi.ImageError(r.Error.Code, r.Error.Message)
		}
	}
	return res, errs
}

type textBodyKey struct{}

// textBodyHint explains a failed image whose body arrived as text with
// bytes replaced: the gateway did not pass it as binary.
func textBodyHint(r *http.Request) string {
	if r.Context().Value(textBodyKey{}) == nil {
		return ""
	}
	return "the body arrived as text with bytes replaced, so the gateway did not pass it as binary: " +
		"on a REST API add image/* (or */*) to binaryMediaTypes, or send the image base64-encoded"
}

// gatewayRequest is what the three gateway formats have in common.
type gatewayRequest struct {
	Method, Path, Host, RemoteAddr string
	Header                         http.Header
	RawQuery                       string
	Body                           string
	Base64                         bool
}

func (h *Handler) serveREST(ctx context.Context, raw json.RawMessage) events.APIGatewayProxyResponse {
	var ev events.APIGatewayProxyRequest
	w := newResponseRecorder()
	if err := h.decodeEvent(raw, &ev); err != nil {
		httpapi.WriteError(w, err)
	} else {
		q := url.Values(ev.MultiValueQueryStringParameters)
		if len(q) == 0 {
			q = url.Values{}
			for k, v := range ev.QueryStringParameters {
				q.Set(k, v)
			}
		}
		hdr := http.Header{}
		for k, v := range ev.Headers {
			hdr.Set(k, v)
		}
		for k, vs := range ev.MultiValueHeaders {
			hdr[http.CanonicalHeaderKey(k)] = vs
		}
		h.serveGateway(ctx, w, gatewayRequest{
			Method: ev.HTTPMethod, Path: cmp.Or(ev.Path, ev.Resource), Host: hdr.Get("Host"),
			RemoteAddr: ev.RequestContext.Identity.SourceIP, Header: hdr, RawQuery: q.Encode(),
			Body: ev.Body, Base64: ev.IsBase64Encoded,
		})
	}
	h.logHTTP(ctx, kindRESTv1, w, len(raw))
	body, b64 := w.body()
	return events.APIGatewayProxyResponse{StatusCode: w.status, Headers: singleHeaders(w.header, ", "),
		MultiValueHeaders: w.header, Body: body, IsBase64Encoded: b64}
}

// serveHTTPv2 serves HTTP API v2 payloads and Function URL requests, which
// share one format (events.LambdaFunctionURLRequest has the same fields).
func (h *Handler) serveHTTPv2(ctx context.Context, raw json.RawMessage, kind eventKind) events.APIGatewayV2HTTPResponse {
	var ev events.APIGatewayV2HTTPRequest
	w := newResponseRecorder()
	if err := h.decodeEvent(raw, &ev); err != nil {
		httpapi.WriteError(w, err)
	} else {
		hdr := http.Header{}
		for k, v := range ev.Headers {
			hdr.Set(k, v)
		}
		if len(ev.Cookies) > 0 {
			hdr.Set("Cookie", strings.Join(ev.Cookies, "; "))
		}
		rawQuery := ev.RawQueryString
		if rawQuery == "" && len(ev.QueryStringParameters) > 0 {
			q := url.Values{}
			for k, v := range ev.QueryStringParameters {
				q.Set(k, v)
			}
			rawQuery = q.Encode()
		}
		h.serveGateway(ctx, w, gatewayRequest{
			Method: ev.RequestContext.HTTP.Method, Path: ev.RawPath, Host: cmp.Or(ev.RequestContext.DomainName, hdr.Get("Host")),
			RemoteAddr: ev.RequestContext.HTTP.SourceIP, Header: hdr, RawQuery: rawQuery,
			Body: ev.Body, Base64: ev.IsBase64Encoded,
		})
	}
	h.logHTTP(ctx, kind, w, len(raw))
	body, b64 := w.body()
	cookies := w.header.Values("Set-Cookie")
	w.header.Del("Set-Cookie")
	return events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: singleHeaders(w.header, ", "),
		Cookies: cookies, Body: body, IsBase64Encoded: b64}
}

// decodeEvent unmarshals a gateway event no larger than the payload limit.
func (h *Handler) decodeEvent(raw json.RawMessage, ev any) error {
	if len(raw) > h.cfg.MaxPayload {
		// The real service refuses such requests before the handler; this
		// is the handler's own guard (and what the RIE cannot show).
		return h.api.BodyTooLarge()
	}
	if err := json.Unmarshal(raw, ev); err != nil {
		return httpapi.Errorf(api.CodeBadRequest, "malformed gateway event: %v", err)
	}
	return nil
}

// serveGateway builds the *http.Request of a gateway event and serves it.
func (h *Handler) serveGateway(ctx context.Context, w *responseRecorder, g gatewayRequest) {
	body := []byte(g.Body)
	if g.Base64 {
		var err error
		if body, err = base64.StdEncoding.DecodeString(g.Body); err != nil {
			if body, err = api.DecodeBase64(g.Body); err != nil {
				httpapi.WriteError(w, httpapi.Errorf(api.CodeBadRequest, "body is marked isBase64Encoded but is not valid base64: %v", err))
				return
			}
		}
	} else if strings.ContainsRune(g.Body, utf8.RuneError) {
		ctx = context.WithValue(ctx, textBodyKey{}, true)
	}
	// A stage or base path before a route (/prod/predict) is dropped.
	path := g.Path
	if !h.api.HasRoute(path) {
		if i := strings.IndexByte(strings.TrimPrefix(path, "/"), '/'); i >= 0 && h.api.HasRoute(path[i+1:]) {
			path = path[i+1:]
		}
	}
	r := &http.Request{
		Method:        strings.ToUpper(g.Method),
		URL:           &url.URL{Path: path, RawQuery: g.RawQuery},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        g.Header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          g.Host,
		RemoteAddr:    g.RemoteAddr,
		RequestURI:    (&url.URL{Path: path, RawQuery: g.RawQuery}).RequestURI(),
	}
	h.api.ServeHTTP(w, r.WithContext(ctx))
	w.method, w.path = r.Method, g.Path
}

func (h *Handler) logHTTP(ctx context.Context, kind eventKind, w *responseRecorder, eventBytes int) {
	level := slog.LevelInfo
	if w.status >= 500 {
		level = slog.LevelError
	}
	h.log.Log(ctx, level, "http request", "kind", kind, "method", w.method, "path", w.path,
		"status", w.status, "event_bytes", eventBytes, "duration_ms", msSince(w.start))
}

// responseRecorder is the http.ResponseWriter a gateway event is served to.
type responseRecorder struct {
	header       http.Header
	status       int
	buf          bytes.Buffer
	start        time.Time
	method, path string
}

func newResponseRecorder() *responseRecorder {
	return &responseRecorder{header: http.Header{}, start: time.Now()}
}

func (r *responseRecorder) Header() http.Header { return r.header }

func (r *responseRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *responseRecorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.buf.Write(b)
}

// body is the response body as the gateway wants it: text as is, anything
// else base64 with the flag set.
func (r *responseRecorder) body() (string, bool) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	b := r.buf.Bytes()
	if isText(r.header.Get("Content-Type")) && utf8.Valid(b) {
		return string(b), false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

func isText(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/xml" || mt == "application/javascript"
}

// singleHeaders joins each header's values with sep, for the gateways'
// single-value header maps.
func singleHeaders(h http.Header, sep string) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		out[k] = strings.Join(vs, sep)
	}
	return out
}

func msSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}
