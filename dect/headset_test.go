package dect_test

import (
	"testing"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/sim/radio"
)

// Issue 10 §2: the R key of a Headset (a double press of its talk button)
// reaches the call layer as a flash during a call, as a Linx's hook flash
// does; outside a call the Headset has nothing to flash.
func TestHeadsetFlashDuringCall(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dev := r.pair(hs, "1234")
	if err := hs.Flash(); err == nil {
		t.Error("flash outside a call accepted")
	}
	if err := dev.Ring(endpoint.CallerID{Number: "200"}, ""); err != nil {
		t.Fatal(err)
	}
	waitDev(t, hs, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
	hs.Answer()
	devEvent(t, dev, dect.OffHook)
	if err := hs.Flash(); err != nil {
		t.Fatalf("flash on the Headset during a call: %v", err)
	}
	devEvent(t, dev, dect.Flash)
	if err := hs.Flash(); err != nil {
		t.Fatal(err)
	}
	devEvent(t, dev, dect.Flash)
}
