//go:build unix

package modelstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive flock on the directory p, waiting until it is
// free or ctx ends, so two processes never write one download at once (and
// no lock file is left behind). On a filesystem without flock support it
// proceeds unlocked.
func lockDir(ctx context.Context, p string) (unlock func(), err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	fd := int(f.Fd())
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return func() {
				unix.Flock(fd, unix.LOCK_UN)
				f.Close()
			}, nil
		case errors.Is(err, unix.EWOULDBLOCK), errors.Is(err, unix.EINTR):
		default: // e.g. ENOLCK on some network filesystems
			f.Close()
			return func() {}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", p, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
