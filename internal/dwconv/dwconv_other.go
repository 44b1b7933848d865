//go:build !amd64 || purego

package dwconv

// archKernels is empty: only the pure-Go kernel runs here.
var archKernels []*kernel
