package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/s3io"
)

// fetch checks whether the input is already done, then reads it. It leaves
// w.data set when the input goes on to be prepared.
func (r *runner) fetch(ctx context.Context, it item) *work {
	w := &work{item: it}
	if it.refuse == nil && !it.listed {
		it.refuse = linkFailure(it) // a manifest entry: the same rule as a listing
	}
	if it.refuse != nil {
		w.item = it
		w.fail, w.permanent = it.refuse, true
		return w
	}
	if !it.listed {
		obj, err := retry(ctx, func() (s3io.Object, error) { return it.store.Stat(ctx, it.key) }, &w.attempt)
		if err != nil {
			r.failRun(w, err, CodeReadFailed)
			return w
		}
		w.obj = obj
	}
	if !r.cfg.Force && r.alreadyDone(ctx, w) {
		return w
	}
	if !hasImageExt(it.rel) {
		r.failImage(w, imageprep.CodeNotImage, "not an image file name (extension)")
		return w
	}
	if w.obj.Size > r.cfg.MaxObjectBytes {
		r.failImage(w, imageprep.CodeTooLarge, fmt.Sprintf("%d bytes, more than %d", w.obj.Size, r.cfg.MaxObjectBytes))
		return w
	}
	if r.sp != nil && w.obj.Size > r.cfg.StreamBytes {
		w.stream = true // a preparer reads it as it decodes it
		// Opened here, so a preparer does not wait for the first byte. A
		// failed open is left to the preparer's retries and records.
		if rc, obj, err := it.store.Open(ctx, it.key); err == nil {
			w.body, w.bodyObj = rc, obj
		}
		return w
	}
	// Bytes read but not yet prepared stay within the budget: a 12 MP photo
	// is 3-5 MB, and 8 fetchers each holding one, on top of the preparers'
	// queue, are what made big photos cost more memory than small ones.
	held, err := r.budget.acquire(ctx, w.obj.Size)
	if err != nil {
		r.failRun(w, err, CodeReadFailed)
		return w
	}
	r.read(ctx, w)
	if w.data == nil {
		r.budget.release(held)
	} else {
		w.held = held // prepare releases it
	}
	return w
}

// read reads the input into w.data, or records why it could not.
func (r *runner) read(ctx context.Context, w *work) {
	it := w.item
	w.attempt = 0
	type got struct {
		data []byte
		obj  s3io.Object
	}
	g, err := retry(ctx, func() (got, error) {
		rc, obj, err := it.store.Open(ctx, it.key)
		if err != nil {
			return got{}, err
		}
		defer rc.Close()
		data, err := r.readBody(w, rc)
		return got{data, obj}, err
	}, &w.attempt)
	if err != nil {
		r.failRun(w, err, CodeReadFailed)
		return
	}
	w.adopt(g.obj)
	r.accept(w, g.data)
}

// readBody reads body whole into a recycled buffer: the size known from
// the listing (or Stat) sizes it, and 512 bytes more see EOF without
// growing it. On an error the buffer goes back and data is nil.
func (r *runner) readBody(w *work, body io.Reader) ([]byte, error) {
	data, err := readAll(r.bufs.get(min(w.obj.Size, r.cfg.MaxObjectBytes)+512), body, r.cfg.MaxObjectBytes)
	if err != nil {
		r.bufs.put(data)
		return nil, err
	}
	return data, nil
}

// adopt takes the ETag and size of the object as it was read, when the
// store gives one.
func (w *work) adopt(obj s3io.Object) {
	if obj.ETag != "" {
		w.obj.ETag, w.obj.Size = obj.ETag, obj.Size
	}
}

// accept sets w.data to data when it can be an image, or records why not
// and hands data back.
func (r *runner) accept(w *work, data []byte) {
	switch {
	case len(data) == 0:
		r.failImage(w, imageprep.CodeEmpty, "zero bytes")
	case int64(len(data)) > r.cfg.MaxObjectBytes:
		r.failImage(w, imageprep.CodeTooLarge, fmt.Sprintf("more than %d bytes", r.cfg.MaxObjectBytes))
	case !isImage(data):
		r.failImage(w, imageprep.CodeNotImage, "no image signature (magic bytes)")
	default:
		w.data = data // prepare hands it back
		return
	}
	r.bufs.put(data)
}

// alreadyDone reads the input's output and, when it was made from the same
// source ETag, takes it as this input's record.
func (r *runner) alreadyDone(ctx context.Context, w *work) bool {
	if w.obj.ETag == "" {
		return false
	}
	rc, _, err := r.out.Open(ctx, outputKey(w.rel))
	if err != nil {
		if !errors.Is(err, s3io.ErrNotExist) {
			r.log.Warn("batch: cannot read existing output, redoing it", "input", w.uri, "err", err)
		}
		return false
	}
	defer rc.Close()
	var res api.Result
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&res); err != nil {
		return false
	}
	// The ETag, not the URI, decides: the same content under the same key
	// is done even if the input prefix was spelled differently.
	if res.Source == nil || res.Source.ETag != w.obj.ETag {
		return false
	}
	res.Source.URI = w.uri
	w.result, w.skipped, w.attempt = &res, true, 1
	return true
}

func outputKey(rel string) string { return rel + ".json" }

// Retries of a read, on top of the SDK's own per-request retries.
const readAttempts = 3

// retryBackoff is the first pause between attempts; each next one is 4x.
var retryBackoff = 250 * time.Millisecond

// retry calls f up to readAttempts times with backoff while it fails with an error
// other than ErrNotExist (the SDK retries each request on its own too).
func retry[T any](ctx context.Context, f func() (T, error), attempts *int) (T, error) {
	var v T
	var err error
	for i := range readAttempts {
		*attempts = i + 1
		if v, err = f(); err == nil || errors.Is(err, s3io.ErrNotExist) || ctx.Err() != nil || i == readAttempts-1 {
			return v, err
		}
		select {
		case <-time.After(retryBackoff << (2 * i)):
		case <-ctx.Done():
			return v, err
		}
	}
	return v, err
}
