package sipua

import (
	"context"
	"testing"
)

// TestRunStoppedWhileStartingReturnsNil: a UA stopped while it waits for
// its listener to join sipgo's pool ends without an error (Run's contract:
// it runs until ctx ends), and its serving goroutines are gone when Run
// returns. Under load, TestCodecPreferenceFollowsWidebandEndpoints's
// immediate stop got "Run: context canceled".
func TestRunStoppedWhileStartingReturnsNil(t *testing.T) {
	for i := range 20 {
		u, err := New(Config{Listen: "127.0.0.1:0"}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := u.Run(ctx); err != nil {
			t.Fatalf("run %d, stopped before it started: %v", i, err)
		}
	}
}
