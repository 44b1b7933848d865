package gemm

// MaxInto sets dst[i] = max(dst[i], src[i]) for i < len(dst); src must be
// at least as long. Where either is NaN the result is src[i], as x86's
// MAXPS gives. It is the inner loop of the engine's max pooling, here
// beside the GEMM because that is where the vector kernels are.
func MaxInto(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	_ = src[len(dst)-1]
	maxInto(dst, src[:len(dst)])
}

// maxInto is MaxInto's kernel: maxIntoGeneric unless the CPU has a vector
// one (set at init).
var maxInto = maxIntoGeneric

// maxIntoGeneric is the pure-Go MaxInto, and the reference for the others.
func maxIntoGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i, s := range src {
		if !(dst[i] > s) {
			dst[i] = s
		}
	}
}

// Winograd F(2x2, 3x3) transform kernels for the engine (internal/infer's
// winograd2.go documents the layouts). Each returns false, doing nothing,
// when this CPU or build has no vector kernel or the slices are shorter
// than the kernel reads; the caller then runs its own loop.
var (
	winoIn  func(rows *float32, ws int, out *float32, stride int, n int)
	winoOut func(m *float32, stride int, n int, out0, out1, bias *float32, relu bool)
)

// WinoInput writes the input transform of n tiles of one tile row: rows
// holds the eight arrays E0, O0, ..., E3, O3, ws floats apart (ws > n), and
// tile t's transform goes to out[ξ*stride+t]. rows must extend 16 floats
// past 7*ws+n.
func WinoInput(rows []float32, ws int, out []float32, stride, n int) bool {
	if winoIn == nil || n <= 0 || ws <= n || len(rows) < 7*ws+ceilDiv(n, 16)*16+1 || len(out) < 15*stride+n {
		return n <= 0 && winoIn != nil
	}
	winoIn(&rows[0], ws, &out[0], stride, n)
	return true
}

// WinoOutput writes the output transform of n whole tiles of one tile row
// and channel: from m[ξ*stride+t] to out0[2t:2t+2] and out1[2t:2t+2], plus
// *bias, then ReLU. m must extend 16 floats past 15*stride+n. bias is a
// pointer (to the layer's own bias) because the kernel is called through a
// function variable: a value's address would escape, one allocation a call.
func WinoOutput(m []float32, stride, n int, out0, out1 []float32, bias *float32, relu bool) bool {
	if winoOut == nil || n <= 0 || len(m) < 15*stride+ceilDiv(n, 16)*16 || len(out0) < 2*n || len(out1) < 2*n {
		return n <= 0 && winoOut != nil
	}
	winoOut(&m[0], stride, n, &out0[0], &out1[0], bias, relu)
	return true
}

// HasWinoKernels reports whether WinoInput and WinoOutput run vector
// kernels here.
func HasWinoKernels() bool { return winoIn != nil && winoOut != nil }

// Winograd F(4x4, 3x3) transform kernels (internal/infer's winograd4.go
// documents the layouts), like winoIn and winoOut.
var (
	winoIn4  func(rows *float32, ws int, out *float32, stride int, n int)
	winoOut4 func(m *float32, stride int, n int, out *float32, ldo int, bias *float32, relu bool)
)

// WinoInput4 writes F(4x4)'s input transform of n tiles of one tile row:
// rows holds 24 arrays ws floats apart (ws > n), the four phases (columns
// mod 4) of each of the six zero-padded input rows, row i's phase p at
// (4i+p)*ws, and tile t's transform goes to out[ξ*stride+t], ξ < 36. rows
// must extend 16 floats past 23*ws+n.
func WinoInput4(rows []float32, ws int, out []float32, stride, n int) bool {
	if winoIn4 == nil || n <= 0 || ws <= n || len(rows) < 23*ws+ceilDiv(n, 16)*16+1 || len(out) < 35*stride+n {
		return n <= 0 && winoIn4 != nil
	}
	winoIn4(&rows[0], ws, &out[0], stride, n)
	return true
}

// WinoOutput4 writes F(4x4)'s output transform of n whole tiles of one tile
// row and channel: from m[ξ*stride+t] to out[r*ldo+4t : r*ldo+4t+4] for the
// four output rows r, plus *bias (a pointer as for WinoOutput), then ReLU.
// m must extend 16 floats past 35*stride+n.
func WinoOutput4(m []float32, stride, n int, out []float32, ldo int, bias *float32, relu bool) bool {
	if winoOut4 == nil || n <= 0 || len(m) < 35*stride+ceilDiv(n, 16)*16 || ldo < 4*n || len(out) < 3*ldo+4*n {
		return n <= 0 && winoOut4 != nil
	}
	winoOut4(&m[0], stride, n, &out[0], ldo, bias, relu)
	return true
}

// useWinoKernels sets the Winograd transform kernels that go with the GEMM
// kernel named (Use calls it): none unless the architecture sets it.
var useWinoKernels = func(name string) {}

// HasWino4Kernels reports whether WinoInput4 and WinoOutput4 run vector
// kernels here.
func HasWino4Kernels() bool { return winoIn4 != nil && winoOut4 != nil }
