// Package modelstore finds, downloads, caches and verifies model files.
package modelstore

import (
	"context"
	"errors"
	"io"

	"github.com/mlserve/mlserve/models"
)

// Request says where to look for a model. Resolve takes, in order: Flag,
// Env (MLSERVE_MODEL), then the cached default model.
type Request struct {
	Flag     string // --model: a path, file://, https:// or s3:// URL
	Env      string // MLSERVE_MODEL, same forms
	CacheDir string // "" means DefaultCacheDir()
	Manifest models.Manifest
	// Pull lets Resolve download the default model itself when it is not
	// cached (the CLI sets it on a terminal); otherwise a missing model is
	// an *ErrNoModel naming the command that fetches it.
	Pull bool
	// Progress receives a progress bar while downloading; nil for none.
	Progress io.Writer
}

// Resolve returns the local path of the model file.
// TEMPORARY stub: only plain paths.
func Resolve(ctx context.Context, r Request) (string, error) {
	if r.Flag != "" {
		return r.Flag, nil
	}
	if r.Env != "" {
		return r.Env, nil
	}
	return "", errors.New("no model: run `mlserve model pull`")
}
