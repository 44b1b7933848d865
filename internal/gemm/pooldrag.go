//go:build pooldrag

package gemm

import (
	"os"
	"strconv"
)

// With -tags pooldrag (experiments only) MLSERVE_POOL_DRAG sets workerDrag
// (1: the workers run at half speed, as on a vCPU the host slows) and
// MLSERVE_POOL_OWNB=0 turns plan.own off and MLSERVE_POOL_PACKEDROWS sets
// packedRows, so that a whole model can be timed with a slow helper
// thread, each split against the other.
func init() {
	if v, err := strconv.ParseFloat(os.Getenv("MLSERVE_POOL_DRAG"), 64); err == nil {
		workerDrag = v
	}
	if os.Getenv("MLSERVE_POOL_OWNB") == "0" {
		ownB = false
	}
	if v, err := strconv.Atoi(os.Getenv("MLSERVE_POOL_PACKEDROWS")); err == nil && v > 0 {
		packedRows = v
	}
}
