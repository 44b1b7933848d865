//go:build !unix

package modelstore

import "context"

// lockDir is a no-op where flock is not available.
func lockDir(context.Context, string) (func(), error) { return func() {}, nil }
