//go:build !race

package main

// raceEnabled reports a -race build: the simulator side of a test runs
// several times slower.
const raceEnabled = false
