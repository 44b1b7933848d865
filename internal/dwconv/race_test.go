//go:build race

package dwconv

const raceEnabled = true
