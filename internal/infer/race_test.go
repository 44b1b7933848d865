//go:build race

package infer

// raceEnabled: this test binary has the race detector (see eachKernel).
const raceEnabled = true
