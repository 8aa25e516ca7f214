//go:build !race

package main

// raceEnabled reports a -race build: the race detector allows 8128 live
// goroutines (a base has about 35) and runs everything several times
// slower, so the fleet tests run a smaller fleet under it.
const raceEnabled = false
