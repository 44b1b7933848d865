//go:build !purego

package gemm

var archKernels []*kernel
