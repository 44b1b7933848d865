//go:build !unix

package modelstore

import "context"

// lockFile is a no-op where flock is not available.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
