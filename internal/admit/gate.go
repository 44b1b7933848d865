package admit

import (
	"context"
	"errors"
	"runtime"

	"github.com/mlserve/mlserve/internal/imageprep"
)

// Coster estimates the bytes decoding data holds at its peak;
// *infer.Classifier implements it (imageprep.DecodeCost with the model's
// preprocessing).
type Coster interface {
	DecodeCost(data []byte) (int64, error)
}

// Gate admits decodes against a Budget, each weighted by its estimated
// cost. A nil *Gate admits everything at once.
type Gate struct {
	budget *Budget
	cost   func(data []byte) (int64, error)
}

// NewGate returns a gate over budget that weighs images with c, or, when c
// is nil, with imageprep.DecodeCost and the default preprocessing.
func NewGate(budget *Budget, c Coster) *Gate {
	g := &Gate{budget: budget, cost: func(data []byte) (int64, error) {
		return imageprep.DecodeCost(data, imageprep.Config{})
	}}
	if c != nil {
		g.cost = c.DecodeCost
	}
	return g
}

// Budget is the gate's budget (nil for a nil gate).
func (g *Gate) Budget() *Budget {
	if g == nil {
		return nil
	}
	return g.budget
}

// Enter waits until the decode of data fits the budget and returns the
// function that gives its bytes back, to call once the decoded image is
// no longer referenced (when Prepare has returned). An image whose header
// cannot be read is admitted at its size: the decoder fails on it at once
// with its own error. An image that needs more than the whole budget is an
// *imageprep.Error with CodeTooLarge wrapping a *TooLargeError; the other
// error is ctx's. Releasing a decode of at least 1/16 of the budget
// runs the collector first.
func (g *Gate) Enter(ctx context.Context, data []byte) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	n, err := g.cost(data)
	if err != nil {
		n = int64(len(data))
	}
	return g.EnterCost(ctx, n)
}

// EnterCost is Enter for a decode already weighed at n bytes (a streamed
// image, weighed from its header).
func (g *Gate) EnterCost(ctx context.Context, n int64) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	if err := g.budget.Acquire(ctx, n); err != nil {
		var tl *TooLargeError
		if errors.As(err, &tl) {
			return nil, &imageprep.Error{Code: imageprep.CodeTooLarge, Err: err}
		}
		return nil, err
	}
	return func() {
		if n >= g.budget.Size()/collectShare {
			// A decode that held a large share of the budget is garbage
			// now: collect it before its bytes are admitted again, so the
			// budget bounds the heap and not only what is live (else the
			// collector lets the heap reach twice what was live at its last
			// run). Cheap next to such a decode: the model's weights hold
			// no pointers, so there is little to mark.
			runtime.GC()
		}
		g.budget.Release(n)
	}, nil
}

// collectShare: decodes of at least 1/collectShare of the budget are
// collected when they finish.
const collectShare = 16

// Prepare runs prepare on data once its decode is admitted, and releases
// the bytes when prepare returns.
func Prepare[T any](ctx context.Context, g *Gate, data []byte, prepare func([]byte) (T, error)) (T, error) {
	release, err := g.Enter(ctx, data)
	if err != nil {
		var zero T
		return zero, err
	}
	defer release()
	return prepare(data)
}
