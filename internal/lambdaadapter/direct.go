package lambdaadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
)

// DirectRequest is a direct invoke: exactly one of S3URI, Image or Images.
type DirectRequest struct {
	S3URI  string   `json:"s3_uri,omitempty"`
	Image  string   `json:"image,omitempty"`  // base64
	Images []string `json:"images,omitempty"` // base64 each
	TopK   int      `json:"top_k,omitempty"`
}

// DirectBatchResponse answers {"images": [...]}: one Result per image, in
// order; a failed image has Error set.
type DirectBatchResponse struct {
	Results []api.Result `json:"results"`
}

// maxDirectImages bounds {"images": [...]}; the 6 MB payload bounds it
// anyway, this keeps one invoke's engine work predictable.
const maxDirectImages = 64

// handleDirect classifies the image(s) of a direct invoke. One image that
// fails is an *ImageError; with "images", failures are per item.
func (h *Handler) handleDirect(ctx context.Context, raw json.RawMessage, p *probe) (any, error) {
	if h.clf == nil {
		return nil, &ConfigError{Message: errSubmitOnly}
	}
	if len(raw) > h.cfg.MaxPayload {
		return nil, &BadRequestError{Code: api.CodeBodyTooLarge, Message: fmt.Sprintf(
			"payload of %d bytes is over AWS Lambda's %d-byte synchronous limit; upload images under the bucket's %q prefix to run them as an AWS Batch job",
			len(raw), h.cfg.MaxPayload, h.cfg.InputPrefix)}
	}
	var req DirectRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, &BadRequestError{Code: api.CodeBadRequest, Message: "direct invoke: " + err.Error()}
	}
	n := 0
	for _, set := range []bool{p.S3URI != nil, p.Image != nil, p.Images != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, &BadRequestError{Code: api.CodeBadRequest, Message: `direct invoke: give exactly one of "s3_uri", "image" and "images"`}
	}
	topK := h.cfg.TopK
	if req.TopK != 0 {
		if err := api.CheckTopK(req.TopK); err != nil {
			return nil, &BadRequestError{Code: api.CodeBadRequest, Message: err.Error()}
		}
		topK = req.TopK
	}
	start := time.Now()
	switch {
	case p.S3URI != nil:
		data, err := h.readObject(ctx, req.S3URI)
		if err != nil {
			return nil, err
		}
		r, err := h.classifyOne(ctx, data, topK, req.S3URI)
		if err == nil {
			r.Source = &api.Source{URI: req.S3URI, Size: int64(len(data))}
		}
		h.logDirect(ctx, "s3_uri", 1, start, err)
		return r, err
	case p.Image != nil:
		data, err := api.DecodeBase64(req.Image)
		if err != nil {
			return nil, &BadRequestError{Code: api.CodeBadRequest, Message: `"image" is not valid base64: ` + err.Error()}
		}
		r, err := h.classifyOne(ctx, data, topK, "")
		h.logDirect(ctx, "image", 1, start, err)
		return r, err
	default:
		if len(req.Images) == 0 || len(req.Images) > maxDirectImages {
			return nil, &BadRequestError{Code: api.CodeBadRequest, Message: fmt.Sprintf(`"images" has %d items: want 1 to %d`, len(req.Images), maxDirectImages)}
		}
		imgs := make([][]byte, len(req.Images))
		for i, s := range req.Images {
			var err error
			if imgs[i], err = api.DecodeBase64(s); err != nil {
				return nil, &BadRequestError{Code: api.CodeBadRequest, Message: fmt.Sprintf(`"images"[%d] is not valid base64: %v`, i, err)}
			}
		}
		res := h.clf.Classify(ctx, imgs, topK)
		if len(res) != len(imgs) {
			return nil, &ImageError{Code: infer.CodeInternal, Message: fmt.Sprintf("engine returned %d results for %d images", len(res), len(imgs))}
		}
		h.logDirect(ctx, "images", len(imgs), start, nil)
		return DirectBatchResponse{Results: api.FromEngineAll(res)}, nil
	}
}

func (h *Handler) classifyOne(ctx context.Context, data []byte, topK int, source string) (api.Result, error) {
	res := h.clf.Classify(ctx, [][]byte{data}, topK)
	if len(res) != 1 {
		return api.Result{}, &ImageError{Code: infer.CodeInternal, Message: fmt.Sprintf("engine returned %d results for 1 image", len(res)), Source: source}
	}
	if e := res[0].Error; e != nil {
		return api.Result{}, &ImageError{Code: e.Code, Message: e.Message, Source: source}
	}
	return api.FromEngine(res[0]), nil
}

func (h *Handler) logDirect(ctx context.Context, kind string, n int, start time.Time, err error) {
	if err != nil {
		h.log.WarnContext(ctx, "direct invoke failed", "input", kind, "images", n, "duration_ms", msSince(start), "err", err)
		return
	}
	h.log.InfoContext(ctx, "direct invoke", "input", kind, "images", n, "duration_ms", msSince(start))
}

// readObject reads an s3:// object of at most MaxObjectBytes.
func (h *Handler) readObject(ctx context.Context, uri string) ([]byte, error) {
	if !strings.HasPrefix(uri, "s3://") || len(uri) <= len("s3://") || !strings.Contains(uri[len("s3://"):], "/") {
		return nil, &BadRequestError{Code: api.CodeBadRequest, Message: fmt.Sprintf("s3_uri %q: want s3://bucket/key", uri)}
	}
	if h.store == nil {
		return nil, &ConfigError{Message: "s3_uri invokes need an S3 store"}
	}
	rc, err := h.store.ReadURL(ctx, uri)
	if err != nil {
		return nil, &ObjectReadError{URI: uri, Err: err}
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, h.cfg.MaxObjectBytes+1))
	if err != nil {
		return nil, &ObjectReadError{URI: uri, Err: err}
	}
	if int64(len(data)) > h.cfg.MaxObjectBytes {
		return nil, &ImageError{Code: imageprep.CodeTooLarge, Source: uri,
			Message: fmt.Sprintf("object is over %d bytes; run large images through the batch path", h.cfg.MaxObjectBytes)}
	}
	return data, nil
}
