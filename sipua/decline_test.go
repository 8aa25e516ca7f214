package sipua

import (
	"testing"
	"time"

	"basestation/endpoint"
)

// Soak finding F3: a DECT device that declined a call ringing on it, or
// that the module says went off-hook to dial (answer=false), and then goes
// off-hook gets dial tone (SIT here: no registrar); the call, still ringing on the other device, is
// not answered by it.
func TestOffHookAfterDeclineIsNoAnswer(t *testing.T) {
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", "127.0.0.1:9")}})
	declines := newFakeEndpoint("dect-decline", 0)
	dials := newFakeEndpoint("dect-dial", 0)
	other := newFakeEndpoint("dect-other", 0)
	var reps []Reporter
	for _, ep := range []endpoint.Endpoint{declines, dials, other} {
		rep, err := u.Attach("101", ep)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, rep)
	}
	u.mu.Lock()
	e := u.exts["101"]
	u.mu.Unlock()
	c := u.newCall(e, Account{}, nil, false)
	if !u.offerIncoming(c) {
		t.Fatal("nobody can take the call")
	}
	reps[0](endpoint.Event{Kind: endpoint.OnHook}) // declined
	reps[0](endpoint.Event{Kind: endpoint.OffHook})
	declines.waitFor(t, "tone sit-intercept", 2*time.Second) // dial tone of an unregistered extension
	reps[1](endpoint.Event{Kind: endpoint.OffHook, NotAnswer: true})
	dials.waitFor(t, "tone sit-intercept", 2*time.Second) // dial tone of an unregistered extension

	u.mu.Lock()
	owner, ringsOn := c.owner, len(c.ringing)
	u.mu.Unlock()
	if owner != nil {
		t.Errorf("the call was answered by %s", owner.name)
	}
	if ringsOn != 1 {
		t.Errorf("the call rings on %d endpoints, want 1 (the one that did nothing)", ringsOn)
	}
	select {
	case s := <-c.answerCh:
		t.Errorf("answer claimed by %s", s.name)
	default:
	}
	if other.has("stop-ringing") {
		t.Error("the other device stopped ringing")
	}
}
