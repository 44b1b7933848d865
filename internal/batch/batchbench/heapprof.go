package main

import (
	"bytes"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// startHeapProfile watches the collections while the batch runs and keeps
// the heap profile (inuse_space is as of the last collection) taken after
// the one that left the most live heap: what the next heap goal, and so
// the peak RSS, follows. The returned func writes it to path (nothing for
// an empty path).
func startHeapProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	samples := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/live:bytes"}}
	done := make(chan struct{})
	finished := make(chan []byte)
	go func() {
		var best []byte
		var bestLive, cycles uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				finished <- best
				return
			case <-tick.C:
			}
			metrics.Read(samples)
			c, live := samples[0].Value.Uint64(), samples[1].Value.Uint64()
			if c == cycles || live <= bestLive {
				cycles = c
				continue
			}
			cycles, bestLive = c, live
			var buf bytes.Buffer
			if pprof.Lookup("heap").WriteTo(&buf, 0) == nil {
				best = buf.Bytes()
			}
		}
	}()
	return func() {
		close(done)
		if b := <-finished; b != nil {
			check(os.WriteFile(path, b, 0o644))
		}
	}
}
