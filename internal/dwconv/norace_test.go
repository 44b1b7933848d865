//go:build !race

package dwconv

const raceEnabled = false
