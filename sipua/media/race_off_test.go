//go:build !race

package media

const raceEnabled = false

// Without -race every allocation check asserts, SRTP's included: CI runs
//
//	go test -count=1 -run Alloc ./sipua/media/
//
// for that (its -race runs cannot count pooled buffers).
