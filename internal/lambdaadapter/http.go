package lambdaadapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
)

// Error codes of HTTP responses that are not about the image itself
// (those carry the engine's codes: imageprep's and "internal").
const (
	CodeBadRequest       = "bad_request"
	CodeInvalidBase64    = "invalid_base64"
	CodePayloadTooLarge  = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeSubmitOnly       = "submit_only" // a function without a model (MLSERVE_SUBMIT_ONLY)
)

// httpRequest is what the three gateway formats have in common.
type httpRequest struct {
	Method, Path string
	Headers      map[string]string // lower-case names
	Query        map[string]string
	Body         string
	Base64       bool
	EventBytes   int
}

// httpResponse is a status, extra headers and a JSON body.
type httpResponse struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

func (h *Handler) serveREST(ctx context.Context, raw json.RawMessage) events.APIGatewayProxyResponse {
	var ev events.APIGatewayProxyRequest
	var resp httpResponse
	if len(raw) > h.cfg.MaxPayload {
		resp = h.logHTTP(ctx, httpRequest{EventBytes: len(raw)}, kindRESTv1, time.Now(), tooLarge(len(raw), h.cfg))
	} else if err := json.Unmarshal(raw, &ev); err != nil {
		resp = errorResponse(http.StatusBadRequest, CodeBadRequest, "malformed API Gateway event: "+err.Error())
	} else {
		req := httpRequest{
			Method: ev.HTTPMethod, Path: ev.Path, Headers: lowerKeys(ev.Headers),
			Query: ev.QueryStringParameters, Body: ev.Body, Base64: ev.IsBase64Encoded, EventBytes: len(raw),
		}
		for k, vs := range ev.MultiValueHeaders {
			if k = strings.ToLower(k); req.Headers[k] == "" && len(vs) > 0 {
				req.Headers[k] = vs[len(vs)-1]
			}
		}
		if req.Path == "" {
			req.Path = ev.Resource
		}
		resp = h.serveHTTP(ctx, req, kindRESTv1)
	}
	return events.APIGatewayProxyResponse{StatusCode: resp.Status, Headers: resp.Headers, Body: string(resp.Body)}
}

// serveHTTPv2 serves HTTP API v2 payloads and Function URL requests, which
// share one format (events.LambdaFunctionURLRequest has the same fields).
func (h *Handler) serveHTTPv2(ctx context.Context, raw json.RawMessage, kind eventKind) events.APIGatewayV2HTTPResponse {
	var ev events.APIGatewayV2HTTPRequest
	var resp httpResponse
	if len(raw) > h.cfg.MaxPayload {
		resp = h.logHTTP(ctx, httpRequest{EventBytes: len(raw)}, kind, time.Now(), tooLarge(len(raw), h.cfg))
	} else if err := json.Unmarshal(raw, &ev); err != nil {
		resp = errorResponse(http.StatusBadRequest, CodeBadRequest, "malformed HTTP API event: "+err.Error())
	} else {
		req := httpRequest{
			Method: ev.RequestContext.HTTP.Method, Path: ev.RawPath, Headers: lowerKeys(ev.Headers),
			Query: ev.QueryStringParameters, Body: ev.Body, Base64: ev.IsBase64Encoded, EventBytes: len(raw),
		}
		resp = h.serveHTTP(ctx, req, kind)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: resp.Status, Headers: resp.Headers, Body: string(resp.Body)}
}

// serveHTTP routes POST /predict. A path with a stage prefix
// (/prod/predict) matches too.
func (h *Handler) serveHTTP(ctx context.Context, req httpRequest, kind eventKind) httpResponse {
	start := time.Now()
	return h.logHTTP(ctx, req, kind, start, h.predict(ctx, req))
}

func (h *Handler) logHTTP(ctx context.Context, req httpRequest, kind eventKind, start time.Time, resp httpResponse) httpResponse {
	level := slog.LevelInfo
	if resp.Status >= 500 {
		level = slog.LevelError
	}
	h.log.Log(ctx, level, "http request", "kind", kind, "method", req.Method, "path", req.Path,
		"status", resp.Status, "event_bytes", req.EventBytes, "duration_ms", msSince(start))
	return resp
}

func (h *Handler) predict(ctx context.Context, req httpRequest) httpResponse {
	if h.clf == nil {
		return errorResponse(http.StatusNotImplemented, CodeSubmitOnly, errSubmitOnly)
	}
	if req.Path != "/predict" && !strings.HasSuffix(req.Path, "/predict") {
		return errorResponse(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no route %s %s; send images to POST /predict", req.Method, req.Path))
	}
	if req.Method != http.MethodPost {
		r := errorResponse(http.StatusMethodNotAllowed, CodeMethodNotAllowed, req.Method+" /predict: use POST with the image as the body")
		r.Headers["Allow"] = http.MethodPost
		return r
	}
	// The event itself, or the decoded body, may exceed the synchronous
	// limit; the real service rejects such requests before the handler, so
	// this is the handler's own guard (and what the RIE cannot show).
	if req.EventBytes > h.cfg.MaxPayload || len(req.Body) > h.cfg.MaxPayload {
		return tooLarge(max(req.EventBytes, len(req.Body)), h.cfg)
	}
	isJSON := false
	if ct := req.Headers["content-type"]; ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		isJSON = err == nil && mt == "application/json"
		if err != nil || !(acceptedMediaType(mt) || isJSON) {
			return errorResponse(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
				fmt.Sprintf("content type %q: send the image bytes as the body with an image/* or application/octet-stream content type, or JSON {\"image\": \"<base64>\"}", ct))
		}
	}
	topK := h.cfg.TopK
	if s, ok := req.Query["top_k"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return errorResponse(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("top_k=%q: want an integer from 1 to 1000", s))
		}
		topK = n
	}
	body := []byte(req.Body)
	if req.Base64 {
		var err error
		if body, err = decodeBase64(req.Body); err != nil {
			return errorResponse(http.StatusBadRequest, CodeInvalidBase64, "body is marked isBase64Encoded but is not valid base64: "+err.Error())
		}
	}
	if isJSON {
		return h.predictJSON(ctx, body, topK)
	}
	res := h.clf.Classify(ctx, [][]byte{body}, topK)
	if len(res) != 1 {
		return errorResponse(http.StatusInternalServerError, infer.CodeInternal, fmt.Sprintf("engine returned %d results for 1 image", len(res)))
	}
	return resultResponse(res[0], req)
}

// predictJSON answers a JSON body, as mlserve serve does: {"image":
// "<base64>"} gets one result, {"images": [...]} a list of results in
// which a failed image carries its own error.
func (h *Handler) predictJSON(ctx context.Context, body []byte, topK int) httpResponse {
	var in struct {
		Image  *string  `json:"image"`
		Images []string `json:"images"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return errorResponse(http.StatusBadRequest, CodeBadRequest, "JSON body: "+err.Error())
	}
	if (in.Image == nil) == (in.Images == nil) {
		return errorResponse(http.StatusBadRequest, CodeBadRequest, `JSON body: give exactly one of "image" and "images" (base64)`)
	}
	if in.Image != nil {
		data, err := decodeBase64(*in.Image)
		if err != nil {
			return errorResponse(http.StatusBadRequest, CodeInvalidBase64, `"image" is not valid base64: `+err.Error())
		}
		return resultResponse(h.clf.Classify(ctx, [][]byte{data}, topK)[0], httpRequest{Base64: true})
	}
	if len(in.Images) == 0 || len(in.Images) > maxDirectImages {
		return errorResponse(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf(`"images" holds %d images: want 1 to %d`, len(in.Images), maxDirectImages))
	}
	images := make([][]byte, len(in.Images))
	for i, s := range in.Images {
		var err error
		if images[i], err = decodeBase64(s); err != nil {
			return errorResponse(http.StatusBadRequest, CodeInvalidBase64, fmt.Sprintf(`"images"[%d] is not valid base64: %v`, i, err))
		}
	}
	b, err := json.Marshal(h.clf.Classify(ctx, images, topK))
	if err != nil {
		return errorResponse(http.StatusInternalServerError, infer.CodeInternal, "encode results: "+err.Error())
	}
	return httpResponse{Status: http.StatusOK, Headers: jsonHeaders(), Body: b}
}

// resultResponse answers one image's result: 200 with the result, or the
// error's status.
func resultResponse(r infer.Result, req httpRequest) httpResponse {
	if r.Error != nil {
		msg := r.Error.Message
		if !req.Base64 && strings.ContainsRune(req.Body, utf8.RuneError) {
			// Binary bodies that a gateway passed as text arrive with
			// their non-UTF-8 bytes replaced: the image cannot be saved.
			msg += "; the body arrived as text with bytes replaced, so the gateway did not pass it as binary: " +
				"on a REST API add image/* (or */*) to binaryMediaTypes, or send the image base64-encoded"
		}
		return errorResponse(statusForCode(r.Error.Code), r.Error.Code, msg)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return errorResponse(http.StatusInternalServerError, infer.CodeInternal, "encode result: "+err.Error())
	}
	return httpResponse{Status: http.StatusOK, Headers: jsonHeaders(), Body: b}
}

func tooLarge(n int, cfg Config) httpResponse {
	return errorResponse(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, fmt.Sprintf(
		"request of %d bytes is over AWS Lambda's %d-byte (6 MB) synchronous payload limit (base64 adds a third); "+
			"for large images or many of them upload to the bucket's %q prefix, which runs them as an AWS Batch job with results under %q",
		n, cfg.MaxPayload, cfg.InputPrefix, cfg.OutputPrefix))
}

// acceptedMediaType reports whether a body of media type mt may be an image.
func acceptedMediaType(mt string) bool {
	switch {
	case strings.HasPrefix(mt, "image/"):
		return true
	case mt == "application/octet-stream", mt == "binary/octet-stream", mt == "application/jpeg":
		return true
	}
	return false
}

// statusForCode maps engine error codes to HTTP statuses, as mlserve
// serve does: 400 bad image, 413 too many pixels, 415 a format mlserve
// does not decode, 503 cancelled, 500 otherwise.
func statusForCode(code string) int {
	switch code {
	case imageprep.CodeEmpty, imageprep.CodeNotImage, imageprep.CodeTruncated, imageprep.CodeCorrupt:
		return http.StatusBadRequest
	case imageprep.CodeUnsupported: // an image, in a format mlserve does not decode
		return http.StatusUnsupportedMediaType
	case imageprep.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case infer.CodeCanceled:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

type errorBody struct {
	Error infer.ErrorInfo `json:"error"`
}

func errorResponse(status int, code, msg string) httpResponse {
	b, _ := json.Marshal(errorBody{Error: infer.ErrorInfo{Code: code, Message: msg}}) // cannot fail: strings only
	return httpResponse{Status: status, Headers: jsonHeaders(), Body: b}
}

func jsonHeaders() map[string]string {
	return map[string]string{"Content-Type": "application/json"}
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// decodeBase64 accepts standard base64, padded or not (gateways pad;
// hand-written direct invokes sometimes do not).
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "=") || len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func msSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}
