package sipua

import (
	"testing"
	"time"

	"basestation/endpoint"
)

// A call offered to the extension while one of its endpoints was still
// off-hook (its previous call just ended, its on-hook not yet reported)
// rings that endpoint once it is on-hook, as for an endpoint attached
// while the call is offered (soak seed 2, step 186: a DECT device released
// by the far end missed the next call).
func TestEndpointIdleAgainJoinsRingingCall(t *testing.T) {
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", "127.0.0.1:9")}})
	busy := newFakeEndpoint("dect-busy", 0)
	idle := newFakeEndpoint("analog-idle", 0)
	var reps []Reporter
	for _, ep := range []endpoint.Endpoint{busy, idle} {
		rep, err := u.Attach("101", ep)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, rep)
	}
	reps[0](endpoint.Event{Kind: endpoint.OffHook})
	busy.waitFor(t, "tone", 2*time.Second)
	u.mu.Lock()
	e := u.exts["101"]
	u.mu.Unlock()
	c := u.newCall(e, Account{}, nil, false)
	u.mu.Lock()
	u.calls["ring-after-test"] = c // as the INVITE handler files it
	u.mu.Unlock()
	if !u.offerIncoming(c) {
		t.Fatal("nobody can take the call")
	}
	idle.waitFor(t, "ring", 2*time.Second)
	if busy.has("ring") {
		t.Fatal("an off-hook endpoint rang")
	}
	reps[0](endpoint.Event{Kind: endpoint.OnHook})
	busy.waitFor(t, "ring", 2*time.Second)
	u.mu.Lock()
	n := len(c.ringing)
	u.mu.Unlock()
	if n != 2 {
		t.Fatalf("the call rings on %d endpoints, want 2", n)
	}
}
