package cli

import (
	"context"
	"log/slog"

	"github.com/mlserve/mlserve/internal/admit"
	"github.com/mlserve/mlserve/internal/config"
)

// decodeBudget is the decode budget of serve, batch and lambda:
// MLSERVE_DECODE_BUDGET, else admit.DefaultSize (a quarter of the memory
// limit). It also sets the Go runtime's memory limit from the container's
// unless GOMEMLIMIT did (admit.SetGoLimit), and logs both.
func decodeBudget(ctx context.Context, log *slog.Logger, env *config.Config) *admit.Budget {
	size, limit := env.DecodeBudget, admit.MemoryLimit()
	from := "MLSERVE_DECODE_BUDGET"
	if size <= 0 {
		size = admit.SizeFor(limit) // the limit read once, not again for the default
		from = "default: 1/4 of the memory limit"
	}
	goLimit := admit.SetGoLimit(limit)
	log.InfoContext(ctx, "decode budget", "bytes", size, "budget", admit.Bytes(size), "from", from,
		"memory_limit", limit.Bytes, "memory_limit_source", limit.Source, "go_memory_limit", goLimit)
	return admit.New(size)
}
