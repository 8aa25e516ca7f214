package main

import (
	"strings"
	"testing"
	"time"
)

// The portal's remaining flows through bsctl against the simulated base:
// change the outgoing caller ID (checked in what the called phone
// receives) and remove a device (deregistered from the radio, taken from
// its extension).
func TestBsctlCallerIDAndRemoveDevice(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	if out, err := e.bsctl("set", "--ext", "101", "--caller-id", "+16135551234"); err != nil {
		t.Fatalf("bsctl set: %v\n%s", err, out)
	}
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("dial tone", 3*time.Second, func() bool { return e.port().Phone.Hearing == "dial" })
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"102"}`, nil)
	e.eventually("Bob's phone rings", 5*time.Second, func() bool { return e.softphone("102").State == "incoming" })
	if id := e.softphone("102").LastIdentity; !strings.Contains(id, "+16135551234") {
		t.Errorf("Bob sees identity %q, want the new caller ID +16135551234", id)
	}
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)

	headset, id := e.registerDevice("headset", "2468")
	if out, err := e.bsctl("assign", "--ext", "103", "--device", id); err != nil {
		t.Fatalf("bsctl assign: %v\n%s", err, out)
	}
	e.eventually("103 registered", 10*time.Second, func() bool { return e.registered("103") })
	if out, err := e.bsctl("remove-device", "--device", id); err != nil {
		t.Fatalf("bsctl remove-device: %v\n%s", err, out)
	}
	e.eventually("the headset lost its subscription", 10*time.Second, func() bool { return !e.device(headset).Registered })
	out, err := e.bsctl("devices", "--ext", "103")
	if err != nil || strings.Contains(out, id) {
		t.Fatalf("103 still lists the removed headset: %v\n%s", err, out)
	}
	for _, d := range e.w.d.Status().Devices {
		if d.ID == id {
			t.Fatalf("the base still knows %s", id)
		}
	}
}
