//go:build !(amd64 || arm64) || purego

package gemm

// archKernels is empty: only the generic kernel runs here.
var archKernels []*kernel
