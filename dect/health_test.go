package dect_test

import (
	"errors"
	"testing"
	"time"

	"basestation/dect"
	"basestation/sim/radio"
)

// healthOf waits until the host's view of dev satisfies cond.
func healthOf(t *testing.T, dev *dect.Device, what string, cond func(dect.Health) bool) dect.Health {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := dev.Health()
		if cond(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: health %+v", what, h)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Issue 16 §4: per paired device, the base knows signal, link quality,
// battery, firmware and when it was last seen, as the module measures them.
func TestDeviceHealthFromModule(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{Firmware: "H1 9.9.1"})
	lx := r.emu.NewLinx(radio.DeviceOptions{})
	t0 := time.Now()
	hsDev := r.pair(hs, "1234")
	h := healthOf(t, hsDev, "headset attached", func(h dect.Health) bool { return h.Firmware != "" })
	if h.Link != dect.LinkInRange || h.RSSI != -55 || h.Quality != 100 || h.Battery != 100 || h.Firmware != "H1 9.9.1" {
		t.Errorf("headset health %+v, want in range, -55 dBm, 100 %%, battery 100, firmware H1 9.9.1", h)
	}
	if h.LastSeen.Before(t0) {
		t.Errorf("last seen %v before the pairing at %v", h.LastSeen, t0)
	}
	lxDev := r.pair(lx, "1234")
	h = healthOf(t, lxDev, "linx attached", func(h dect.Health) bool { return h.Firmware != "" })
	if h.Battery != -1 || h.Firmware != "L1 2.3.0" {
		t.Errorf("linx health %+v, want no battery (-1), firmware L1 2.3.0", h)
	}

	// A notable change is reported; a small one is not worth a message.
	if err := hs.SetSignal(-58, 97); err != nil {
		t.Fatal(err)
	}
	r.noEvent(dect.EventDeviceHealth, 300*time.Millisecond)
	if err := hs.SetSignal(-81, 62); err != nil {
		t.Fatal(err)
	}
	e := r.waitEvent(dect.EventDeviceHealth, 5*time.Second)
	if e.Device.Handset != hsDev.Handset() || e.Health.RSSI != -81 || e.Health.Quality != 62 {
		t.Errorf("health event %+v, want handset %d at -81 dBm, 62 %%", e, hsDev.Handset())
	}
	if err := hs.SetBattery(15); err != nil {
		t.Fatal(err)
	}
	e = r.waitEvent(dect.EventDeviceHealth, 5*time.Second)
	if e.Health.Battery != 15 {
		t.Errorf("battery event %+v, want 15 %%", e.Health)
	}
	if err := hs.SetSignal(-200, 50); err == nil {
		t.Error("an RSSI of -200 dBm was accepted by the simulated device")
	}
}

// out-of-range and back-in-range, and a switched-off device, tell apart.
func TestDetachSaysWhy(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dev := r.pair(hs, "1234")
	healthOf(t, dev, "status read", func(h dect.Health) bool { return h.Firmware != "" })

	hs.SetInRange(false)
	e := r.waitEvent(dect.EventDeviceDetached, 5*time.Second)
	if e.Reason != dect.LinkOutOfRange || e.Health.Link != dect.LinkOutOfRange {
		t.Errorf("walked away: %v (health %+v), want out-of-range", e, e.Health)
	}
	seen := e.Health.LastSeen
	hs.SetInRange(true)
	e = r.waitEvent(dect.EventDeviceAttached, 5*time.Second)
	if e.Health.Link != dect.LinkInRange || !e.Health.LastSeen.After(seen) {
		t.Errorf("back in range: health %+v (last seen before %v)", e.Health, seen)
	}
	hs.PowerOff()
	e = r.waitEvent(dect.EventDeviceDetached, 5*time.Second)
	if e.Reason != dect.LinkOff {
		t.Errorf("switched off: %v, want %s", e, dect.LinkOff)
	}
}

// LOCATE pages the one device, not the others; a device out of reach or
// unknown is an error that says so.
func TestLocateOneDevice(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	lx := r.emu.NewLinx(radio.DeviceOptions{})
	hsDev := r.pair(hs, "1234")
	r.pair(lx, "1234")
	ctx := ctxT(t, 5*time.Second)
	if err := r.drv.Locate(ctx, hsDev.Handset(), true); err != nil {
		t.Fatal(err)
	}
	waitDev(t, hs, "headset located", func(s radio.DeviceState) bool { return s.Locating })
	if lx.State().Locating || lx.State().Paging {
		t.Error("locating the headset paged the Linx too")
	}
	// Found: the user picks it up.
	if err := hs.OffHook(); err != nil {
		t.Fatal(err)
	}
	waitDev(t, hs, "located no more", func(s radio.DeviceState) bool { return !s.Locating })
	if err := r.drv.Locate(ctx, 77, true); !errors.Is(err, dect.ErrUnknownDevice) {
		t.Errorf("locate of an unknown handset: %v, want ErrUnknownDevice", err)
	}
	lx.SetInRange(false)
	r.waitEvent(dect.EventDeviceDetached, 5*time.Second)
	if err := r.drv.Locate(ctx, 2, true); !errors.Is(err, dect.ErrNotAuthenticated) {
		t.Errorf("locate of a device out of range: %v, want ErrNotAuthenticated", err)
	}
}

// A module that speaks protocol 1.0 gets no 1.1 request; the driver says
// what it cannot do instead of failing obscurely.
func TestProtocol10Module(t *testing.T) {
	r := newRig(t, rigOpts{emu: &radio.Options{Protocol10: true}})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dev := r.pair(hs, "1234")
	h := healthOf(t, dev, "attached", func(h dect.Health) bool { return h.Link == dect.LinkInRange })
	if h.Quality != -1 || h.RSSI != 0 || h.Firmware != "" {
		t.Errorf("health from a 1.0 module %+v, want nothing measured", h)
	}
	if err := r.drv.Locate(ctxT(t, 5*time.Second), dev.Handset(), true); !errors.Is(err, dect.ErrNotSupported) {
		t.Errorf("locate on a 1.0 module: %v, want ErrNotSupported", err)
	}
	hs.SetInRange(false)
	e := r.waitEvent(dect.EventDeviceDetached, 5*time.Second)
	if e.Reason != dect.LinkGone {
		t.Errorf("detach from a 1.0 module: reason %q, want %q", e.Reason, dect.LinkGone)
	}
	if st := r.emu.Stats(); st.UnknownRequests != 0 {
		t.Errorf("the driver sent %d requests a 1.0 module does not know", st.UnknownRequests)
	}
}
