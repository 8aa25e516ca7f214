package dect_test

import (
	"testing"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/sim/radio"
)

// What the call layer hands a device in the call vocabulary reaches its
// display as the device shows it (behaviour that lived in the daemon's
// adapter): the network's +1 NANP number without its country code, the
// call's time in the configured zone (Options.Location). Activity follows
// the call: ringing, in a call, talking once audio is connected, idle.
func TestEndpointCallerIDAndActivity(t *testing.T) {
	toronto := mustZone(t, "America/Toronto")
	r := newRig(t, rigOpts{drv: &dect.Options{Location: func() *time.Location { return toronto }}})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	dev := r.pair(linx, "1234")
	if a := dev.Activity(); a != endpoint.Idle {
		t.Fatalf("activity %q at rest", a)
	}
	when := time.Date(2026, 11, 22, 14, 30, 0, 0, time.UTC) // 09:30 EST
	if err := dev.Ring(endpoint.CallerID{Number: "+15551234567", Name: "ALICE", Time: when}, endpoint.Normal); err != nil {
		t.Fatal(err)
	}
	s := waitDev(t, linx, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
	if s.Caller.Number != "5551234567" || s.Caller.Name != "ALICE" || s.Caller.Time != "2026-11-22 09:30:00" {
		t.Errorf("display %+v, want 5551234567 ALICE 2026-11-22 09:30:00", s.Caller)
	}
	if a := dev.Activity(); a != endpoint.Ringing {
		t.Errorf("activity %q while ringing", a)
	}
	if err := linx.OffHook(); err != nil {
		t.Fatal(err)
	}
	devEvent(t, dev, dect.OffHook)
	if a := dev.Activity(); a != endpoint.Dialing {
		t.Errorf("activity %q answered, no audio yet", a)
	}
	if _, err := dev.ConnectAudio(); err != nil {
		t.Fatal(err)
	}
	if a := dev.Activity(); a != endpoint.Talking {
		t.Errorf("activity %q with audio", a)
	}
	if err := dev.AlertCallWaiting(endpoint.CallerID{Number: "+16135550100"}); err != nil {
		t.Fatal(err)
	}
	s = waitDev(t, linx, "call waiting", func(s radio.DeviceState) bool { return s.Waiting != nil })
	if s.Waiting.Number != "6135550100" {
		t.Errorf("call waiting shows %+v, want 6135550100", s.Waiting)
	}
	if err := dev.Release(); err != nil {
		t.Fatal(err)
	}
	if a := dev.Activity(); a != endpoint.Idle {
		t.Errorf("activity %q after release", a)
	}
	// The module reports no hang-up for a release it was told of; the
	// device reports it, so that the call layer knows it is free.
	if e := devEvent(t, dev, dect.OnHook); e.Reason != "released" {
		t.Errorf("on-hook after release %+v, want reason released", e)
	}
	if ev, ok := (dect.DeviceEvent{Kind: dect.OnHook}).Endpoint(); !ok || ev.Kind != endpoint.OnHook {
		t.Errorf("on-hook as the call layer sees it: %+v %v", ev, ok)
	}
}

// A device's endpoint calls are bounded by Options.RequestTimeout: with
// the module gone silent, Ring returns an error in about that time instead
// of blocking the call layer until the link gives up (retransmissions
// every AckTimeout, here far longer than the bound).
func TestEndpointCallTimeout(t *testing.T) {
	r := newRig(t, rigOpts{drv: &dect.Options{RequestTimeout: 300 * time.Millisecond, AckTimeout: 2 * time.Second}})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dev := r.pair(hs, "1234")
	r.emu.SetFaults(radio.Faults{DropRate: 1})
	t0 := time.Now()
	err := dev.Ring(endpoint.CallerID{Number: "1"}, "")
	if err == nil {
		t.Fatal("Ring through a silent module succeeded")
	}
	if d := time.Since(t0); d > 1500*time.Millisecond {
		t.Errorf("Ring took %v with RequestTimeout 300ms: %v", d, err)
	}
}
