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
			b, c := backoffs.Load(), calmSpans.Swap(0)
			fmt.Fprintf(os.Stderr, "gemm pool: %d back-offs, %d calm spans, next %v (meter %v)\n",
				b-last, c, time.Duration(nextOff.Load()), canMeter)
			last = b
		}
	}()
}
