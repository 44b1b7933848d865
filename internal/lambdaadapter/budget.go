package lambdaadapter

import (
	"context"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/infer"
)

// engine is the classifier in its two steps; *infer.Classifier implements
// it. The handler then admits each decode against the decode budget.
type engine interface {
	Prepare(data []byte) (*infer.Input, error)
	ClassifyWith(ctx context.Context, images [][]byte, topK int, prepare func([]byte) (*infer.Input, error)) []infer.Result
	Info() infer.ModelInfo
}

var _ engine = (*infer.Classifier)(nil)

// budgeted is an engine as a Classifier whose decodes pass the gate: the
// same budget as serve and batch, shared by every invoke of this execution
// environment and by its direct bursts.
type budgeted struct {
	engine
	gate *admit.Gate
}

// withBudget wraps clf when it is an engine; other Classifiers (fakes)
// are used as they are.
func withBudget(clf Classifier, b *admit.Budget) Classifier {
	e, ok := clf.(engine)
	if !ok {
		return clf
	}
	coster, _ := clf.(admit.Coster)
	return budgeted{engine: e, gate: admit.NewGate(b, coster)}
}

// Classify prepares each image once the budget admits its decode, then
// runs the prepared ones as one batch; a failed image gets its error
// Result, the others their predictions.
func (b budgeted) Classify(ctx context.Context, images [][]byte, topK int) []infer.Result {
	return b.ClassifyWith(ctx, images, topK, func(data []byte) (*infer.Input, error) {
		return admit.Prepare(ctx, b.gate, data, b.Prepare)
	})
}
