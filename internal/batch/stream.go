package batch

import (
	"bufio"
	"context"
	"errors"
	"io"

	"github.com/mlserve/mlserve/internal/imageprep"
	"github.com/mlserve/mlserve/internal/infer"
	"github.com/mlserve/mlserve/internal/s3io"
)

// streamPreparer is a Classifier that decodes a JPEG as it reads it
// (*infer.Classifier): large inputs then hold a window of their data, not
// all of it. Without it, a 12 MP photo's 3-5 MB waited whole in the read
// budget and in each preparer, more than all the small inputs in flight.
type streamPreparer interface {
	PrepareReader(r io.Reader, enter func(cost int64) (release func(), err error)) (*infer.Input, error)
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// streamed is one attempt's outcome: an input, the image's own error
// (not retried), or data read whole for an image that is not streamed.
type streamed struct {
	in   *infer.Input
	err  error
	obj  s3io.Object
	data []byte
	// reopen: the stream was partly decoded before it turned out not to
	// be streamable; it is read whole again.
	reopen bool
}

// prepareStream opens w's input and decodes it as it reads it, retrying a
// failed open or read as fetch does; false when w failed. An input that is
// not a JPEG the stream decoder takes is read whole and prepared as usual.
func (r *runner) prepareStream(ctx context.Context, w *work) bool {
	w.attempt, w.stream = 0, false
	enter := func(n int64) (func(), error) { return r.gate.EnterCost(ctx, n) }
	g, err := retry(ctx, func() (streamed, error) {
		rc, obj, err := w.body, w.bodyObj, error(nil)
		w.body = nil // the first attempt reads fetch's body; a retry reopens
		if rc == nil {
			rc, obj, err = w.store.Open(ctx, w.key)
		}
		if err != nil {
			return streamed{}, err
		}
		defer rc.Close()
		br := bufio.NewReaderSize(io.LimitReader(rc, r.cfg.MaxObjectBytes+1), 4096)
		head, err := br.Peek(16)
		if err != nil && !errors.Is(err, io.EOF) {
			return streamed{}, err
		}
		if f, _ := imageprep.Sniff(head); f == imageprep.FormatJPEG {
			cr := &countReader{r: br}
			in, err := r.sp.PrepareReader(cr, enter)
			var re *imageprep.ReadError
			switch {
			case errors.As(err, &re):
				return streamed{}, err
			case !errors.Is(err, imageprep.ErrNotStreamed):
				return streamed{in: in, err: err, obj: obj}, nil
			case cr.n > 0:
				return streamed{obj: obj, reopen: true}, nil
			}
		}
		data, err := r.readBody(w, br)
		if err != nil {
			return streamed{}, err
		}
		return streamed{obj: obj, data: data}, nil
	}, &w.attempt)
	if w.body != nil { // retry gave up before the first attempt
		w.body.Close()
		w.body = nil
	}
	if err != nil {
		r.failRun(w, err, CodeReadFailed)
		return false
	}
	w.adopt(g.obj)
	switch {
	case g.reopen:
		r.read(ctx, w)
	case g.data != nil:
		r.accept(w, g.data)
	default:
		return r.prepared(w, g.in, g.err)
	}
	if w.data == nil {
		return false // read failed, or not an image: recorded
	}
	return r.prepareWhole(ctx, w)
}
