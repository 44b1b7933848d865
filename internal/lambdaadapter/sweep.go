package lambdaadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/s3io"
	"github.com/mlserve/mlserve/internal/submit"
)

// SweepRequest is the scheduled event {"sweep": {"prefix": "input/"}}:
// classify everything under the prefix that has no result yet. Bucket
// defaults to Config.Scale.Bucket (MLSERVE_BUCKET).
type SweepRequest struct {
	Sweep struct {
		Bucket string `json:"bucket"`
		Prefix string `json:"prefix"`
	} `json:"sweep"`
}

// SweepResponse answers a sweep.
type SweepResponse struct {
	Bucket  string        `json:"bucket"`
	Prefix  string        `json:"prefix"`
	Missing int           `json:"missing"` // images without a result
	Jobs    []Job         `json:"jobs"`
	Direct  []DirectBurst `json:"direct,omitempty"`
}

func (h *Handler) handleSweep(ctx context.Context, raw json.RawMessage) (*SweepResponse, error) {
	var req SweepRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, &BadRequestError{Code: api.CodeBadRequest, Message: "sweep: " + err.Error()}
	}
	bucket, prefix := req.Sweep.Bucket, req.Sweep.Prefix
	if bucket == "" {
		bucket = h.cfg.Scale.Bucket
	}
	if prefix == "" {
		prefix = h.cfg.InputPrefix
	}
	switch {
	case bucket == "":
		return nil, &ConfigError{Message: `a sweep needs a bucket: set MLSERVE_BUCKET or send {"sweep": {"bucket": "...", "prefix": "input/"}}`}
	case !strings.HasPrefix(prefix, h.cfg.InputPrefix):
		return nil, &BadRequestError{Code: api.CodeBadRequest, Message: fmt.Sprintf("sweep prefix %q is outside the input prefix %q", prefix, h.cfg.InputPrefix)}
	}
	store, err := h.openStore(ctx, "s3://"+bucket+"/")
	if err != nil {
		return nil, &ObjectReadError{URI: "s3://" + bucket + "/", Err: err}
	}
	keys, err := submit.Missing(ctx, store, prefix, h.cfg.OutputPrefix)
	if err != nil {
		return nil, &ObjectReadError{URI: "s3://" + bucket + "/" + prefix, Err: err}
	}
	resp := &SweepResponse{Bucket: bucket, Prefix: prefix, Missing: len(keys), Jobs: []Job{}}
	h.log.InfoContext(ctx, "sweep", "bucket", bucket, "prefix", prefix, "missing", len(keys))
	w := h.newWindow()
	for _, k := range keys {
		w.Add(bucket, k, "")
	}
	res := h.processWindow(ctx, w, "sweep", true)
	resp.Jobs, resp.Direct = append(resp.Jobs, res.Jobs...), res.Direct
	if res.Err != nil {
		return nil, res.Err
	}
	return resp, nil
}

func (h *Handler) openStore(ctx context.Context, url string) (s3io.Store, error) {
	if h.cfg.Scale.OpenStore != nil {
		return h.cfg.Scale.OpenStore(ctx, url)
	}
	return s3io.Open(ctx, url)
}
