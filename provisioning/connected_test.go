package provisioning_test

import (
	"testing"
	"time"
)

// Connected follows the broker connection: it drives the base's cloud LED.
func TestConnectedFollowsTheBroker(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), nil)
	waitFor := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for b.agent.Connected() != want {
			if time.Now().After(deadline) {
				t.Fatalf("Connected() stayed %v", !want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(true)
	e.stop()
	waitFor(false)
	e.start()
	waitFor(true)
	b.stop()
	if b.agent.Connected() {
		t.Fatal("still connected after Run ended")
	}
}
