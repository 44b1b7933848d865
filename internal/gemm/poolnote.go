//go:build !poolstats

package gemm

// Without -tags poolstats the pool's diagnostic hooks do nothing.

func noteFork(*group)      {}
func noteStart(post, bool) {}
func noteNow() int64       { return 0 }
func noteWaited(int64)     {}
