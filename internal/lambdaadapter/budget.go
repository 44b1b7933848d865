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
	Run(ctx context.Context, inputs []*infer.Input, topK int) ([]infer.Result, error)
	ErrorResult(err error) infer.Result
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
	out := make([]infer.Result, len(images))
	var inputs []*infer.Input
	var at []int
	for i, data := range images {
		in, err := admit.Prepare(ctx, b.gate, data, b.Prepare)
		if err != nil {
			out[i] = b.ErrorResult(err)
			continue
		}
		inputs = append(inputs, in)
		at = append(at, i)
	}
	if len(inputs) == 0 {
		return out
	}
	res, err := b.Run(ctx, inputs, topK)
	for j, i := range at {
		if err != nil {
			out[i] = b.ErrorResult(err)
			continue
		}
		out[i] = res[j]
	}
	return out
}
