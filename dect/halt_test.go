package dect_test

import (
	"testing"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/sim/radio"
)

// Halt closes the window, stops paging and stops a ring, as conn.Resource's
// Halt leaves a device inert; the link stays up and the driver still works.
func TestHaltLeavesRadioInert(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	dev := r.pair(hs, "1234")
	r.pair(linx, "1234")
	ctx := ctxT(t, 10*time.Second)
	if err := r.drv.OpenRegistration(ctx, 30*time.Second, "1234"); err != nil {
		t.Fatal(err)
	}
	if err := r.drv.Page(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitDev(t, linx, "paging", func(s radio.DeviceState) bool { return s.Paging })
	if err := dev.Ring(endpoint.CallerID{Number: "100"}, "normal"); err != nil {
		t.Fatal(err)
	}
	waitDev(t, hs, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
	if !r.emu.RegistrationOpen() {
		t.Fatal("window not open before Halt")
	}

	if err := r.drv.Halt(); err != nil {
		t.Fatal(err)
	}
	for ev := r.waitEvent(dect.EventRegistrationClosed, time.Second); ev.Reason != "closed"; ev = r.waitEvent(dect.EventRegistrationClosed, time.Second) {
		if ev.Reason != "paired" { // each pairing above closed its window
			t.Errorf("reason %q", ev.Reason)
		}
	}
	if r.emu.RegistrationOpen() {
		t.Error("module's window still open after Halt")
	}
	if r.drv.Paging() {
		t.Error("driver still paging after Halt")
	}
	waitDev(t, linx, "paging stopped", func(s radio.DeviceState) bool { return !s.Paging })
	waitDev(t, hs, "ring stopped", func(s radio.DeviceState) bool { return s.Call == radio.CallIdle })
	if !r.drv.Ready() {
		t.Error("link went down on Halt")
	}
	// Halting an inert radio is harmless.
	if err := r.drv.Halt(); err != nil {
		t.Fatal(err)
	}
}
