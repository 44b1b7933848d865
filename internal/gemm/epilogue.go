package gemm

// Flags of one micro-tile call.
const (
	flagAccum    = 1 << iota // add the tile's current C values (k blocks after the first)
	flagBias                 // add bias[row]
	flagRes                  // add the residual tile (same layout as C)
	flagReLU                 // clamp at zero (last k block only)
	flagClamp                // clamp to [lo, hi] (last k block only; NaN stays NaN)
	flagPrefetch             // prefetch the tile's C and residual rows first (AVX-512 kernels; no effect on the result)
)

// Epilogue is applied as C = Act(relu(A*B + Bias[row] + Residual))
// element-wise, ReLU as asked; Act on each tile right after its last k
// block, while it is in cache.
type Epilogue struct {
	Bias     []float32 // len m, or nil
	Residual []float32 // same layout as C (m x n contiguous), or nil
	ReLU     bool
	Act      Act
}

// epilogue merges the mr x nr corner of a computed tile (row stride
// stride) into c with the flags' epilogue. ReLU keeps NaN, like max(v, 0)
// in the assembly kernels.
func epilogue(acc []float32, stride int, c []float32, ldc int, bias, res []float32, flags, mr, nr int, lo, hi float32) {
	for i := range mr {
		row := c[i*ldc : i*ldc+nr]
		for j := range row {
			v := acc[i*stride+j]
			if flags&flagAccum != 0 {
				v += row[j]
			}
			if flags&flagBias != 0 {
				v += bias[i]
			}
			if flags&flagRes != 0 {
				v += res[i*ldc+j]
			}
			if flags&flagReLU != 0 && v < 0 {
				v = 0
			}
			if flags&flagClamp != 0 {
				v = min(max(v, lo), hi)
			}
			row[j] = v
		}
	}
}
