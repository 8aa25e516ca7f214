package sipua

import (
	"sync/atomic"
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

// linedEndpoint is a fake endpoint that says what its phone is doing now,
// as fxs.Port and dect.Device do.
type linedEndpoint struct {
	*fakeEndpoint
	activity atomic.Value // endpoint.Activity
}

func (l *linedEndpoint) Activity() endpoint.Activity { return l.activity.Load().(endpoint.Activity) }

// TestIdlePhoneWithOnHookInFlightRings (soak seed 2 step 471): the far end
// hung up on a DECT device, the device was released and is idle (the base
// reports its line idle), but its on-hook has not reached the call layer
// yet when the next call comes in. The call is not refused with 486 Busy
// Here: the device rings once its on-hook arrives. A phone that is really
// off-hook (dialing) still gets no ring and, alone, the call is refused.
func TestIdlePhoneWithOnHookInFlightRings(t *testing.T) {
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", "127.0.0.1:9")}})
	dev := &linedEndpoint{fakeEndpoint: newFakeEndpoint("dect-released", 0)}
	dev.activity.Store(endpoint.Dialing)
	rep, err := u.Attach("101", dev)
	if err != nil {
		t.Fatal(err)
	}
	rep(endpoint.Event{Kind: endpoint.OffHook})
	dev.waitFor(t, "tone", 2*time.Second)
	u.mu.Lock()
	e := u.exts["101"]
	u.mu.Unlock()
	offer := func(id string) *call {
		c := u.newCall(e, Account{}, nil, false)
		u.mu.Lock()
		u.calls[id] = c // as the INVITE handler files it
		u.mu.Unlock()
		return c
	}
	// Off-hook and dialing: busy.
	if c := offer("while-dialing"); u.offerIncoming(c) {
		t.Fatal("a call was offered to an extension whose only phone is off-hook dialing")
	} else {
		u.mu.Lock()
		delete(u.calls, "while-dialing")
		u.mu.Unlock()
	}
	// Idle now; the on-hook is still on its way.
	dev.activity.Store(endpoint.Idle)
	c := offer("on-hook-in-flight")
	if !u.offerIncoming(c) {
		t.Fatal("486 for a phone that is idle, its on-hook not yet handled")
	}
	if dev.has("ring") {
		t.Fatal("rang before its on-hook was handled")
	}
	rep(endpoint.Event{Kind: endpoint.OnHook})
	dev.waitFor(t, "ring", 2*time.Second)
	u.mu.Lock()
	ringing := c.ringing[u.attached[dev]]
	u.mu.Unlock()
	if !ringing {
		t.Fatal("the call does not ring the phone after its on-hook")
	}
}
