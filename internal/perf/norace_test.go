//go:build !race

package perf

// raceEnabled reports a -race build, whose figures are not representative.
const raceEnabled = false
