//go:build race

package media

// raceEnabled: the race detector makes sync.Pool drop pooled objects at
// random, so pooled buffers (pion/srtp's) allocate now and then.
const raceEnabled = true
