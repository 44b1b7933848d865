//go:build race

package server

// raceEnabled shrinks the load test: the race detector slows the engine's
// kernels about tenfold.
const raceEnabled = true
