//go:build poolstats

package gemm

import (
	"fmt"
	"os"
	"time"
)

// With -tags poolstats (diagnostics only) the pool prints its back-offs
// once a second to stderr.
func init() {
	go func() {
		var last int64
		for range time.Tick(time.Second) {
			if b := backoffs.Load(); b != last {
				fmt.Fprintf(os.Stderr, "gemm pool: %d back-offs (meter %v)\n", b-last, canMeter)
				last = b
			}
		}
	}()
}
