package dect_test

import (
	"errors"
	"testing"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/sim/radio"
)

// noDeviceEvent checks the host reports nothing for the device within d.
func noDeviceEvent(t *testing.T, dev *dect.Device, d time.Duration) {
	t.Helper()
	select {
	case e := <-dev.Events():
		t.Fatalf("unexpected device event %v", e)
	case <-time.After(d):
	}
}

func TestDeregisteredDeviceCannotAttachOrCall(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	dev := r.pair(linx, "1234")
	ctx := ctxT(t, 10*time.Second)
	if err := r.drv.Deregister(ctx, dev.Handset()); err != nil {
		t.Fatal(err)
	}
	if e := r.waitEvent(dect.EventDeregistered, time.Second); e.Device.Handset != dev.Handset() {
		t.Errorf("event %v", e)
	}
	waitDev(t, linx, "deregistered", func(s radio.DeviceState) bool { return !s.Registered && !s.Attached })
	if len(r.drv.Devices()) != 0 || len(r.emu.Table()) != 0 {
		t.Fatalf("still stored: host %v module %v", r.drv.Devices(), r.emu.Table())
	}
	if tab, _, _ := dect.LoadTable(r.dir); len(tab.Devices) != 0 {
		t.Fatal("still on disk")
	}
	if err := dev.Ring(endpoint.CallerID{Number: "1"}, ""); !errors.Is(err, dect.ErrUnknownDevice) {
		t.Errorf("ring removed device: %v", err)
	}
	linx.OffHook()
	waitDev(t, linx, "refused call", func(s radio.DeviceState) bool { return s.Released == "not-registered" })
	noDeviceEvent(t, dev, 200*time.Millisecond)
}

func TestStaleModuleEntryRefused(t *testing.T) {
	// The device was out of range when it was deregistered, so it still
	// believes it is registered; and the module's flash still holds it.
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	dev := r.pair(linx, "1234")
	h := dev.Handset()
	linx.SetInRange(false)
	r.waitEvent(dect.EventDeviceDetached, 2*time.Second)
	if err := r.drv.Deregister(ctxT(t, 5*time.Second), h); err != nil {
		t.Fatal(err)
	}
	r.emu.InjectSubscription(h, linx)
	linx.SetInRange(true)
	e := r.waitEvent(dect.EventAuthFailed, 2*time.Second)
	if e.Reason != "unknown-device" || e.Handset != h {
		t.Errorf("auth event %v", e)
	}
	waitDev(t, linx, "refused", func(s radio.DeviceState) bool { return s.Denied == "auth-failed" && !s.Attached })
	linx.OffHook()
	waitDev(t, linx, "call refused", func(s radio.DeviceState) bool { return s.Released == "not-registered" })
	if r.drv.Device(h) != nil {
		t.Fatal("device reappeared on the host")
	}
}

func TestWrongKeyCannotAttachOrCall(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dev := r.pair(hs, "1234")
	hs.CorruptKey()
	hs.SetInRange(false)
	r.waitEvent(dect.EventDeviceDetached, 2*time.Second)
	hs.SetInRange(true)
	if e := r.waitEvent(dect.EventAuthFailed, 2*time.Second); e.Reason != "wrong-key" || e.Handset != dev.Handset() {
		t.Errorf("auth event %v", e)
	}
	waitDev(t, hs, "refused", func(s radio.DeviceState) bool { return s.Denied == "auth-failed" && !s.Attached })
	if dev.Attached() {
		t.Fatal("host believes the device attached")
	}
	if err := dev.Ring(endpoint.CallerID{Number: "1"}, ""); !errors.Is(err, dect.ErrNotAuthenticated) {
		t.Errorf("ring: %v", err)
	}
	if _, err := dev.ConnectAudioAt(16000); !errors.Is(err, dect.ErrNotAuthenticated) {
		t.Errorf("audio: %v", err)
	}
	// Starting a call challenges it again, and it fails again.
	hs.OffHook()
	if e := r.waitEvent(dect.EventAuthFailed, 2*time.Second); e.Reason != "wrong-key" {
		t.Errorf("auth event %v", e)
	}
	waitDev(t, hs, "call refused", func(s radio.DeviceState) bool { return s.Released == "auth-failed" && s.Call == radio.CallIdle })
	noDeviceEvent(t, dev, 200*time.Millisecond)
}

func TestOrphanInModuleReportedAndRemoved(t *testing.T) {
	emu, err := radio.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	ghost := emu.NewLinx(radio.DeviceOptions{IPEI: 0x00ABCDEF1})
	emu.InjectSubscription(4, ghost)
	newRig(t, rigOpts{emuX: emu})
	if mt := emu.Table(); len(mt) != 0 {
		t.Fatalf("module table after start-up: %+v", mt)
	}
}

func TestOrphanEvent(t *testing.T) {
	emu, err := radio.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	ghost := emu.NewLinx(radio.DeviceOptions{IPEI: 0x00ABCDEF1})
	emu.InjectSubscription(4, ghost)
	drv, err := dect.New(emu.Radio(), &dect.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	done := make(chan error, 1)
	go func() { done <- drv.Run(ctx) }()
	for {
		select {
		case e := <-drv.Events():
			if e.Kind == dect.EventModuleReady {
				t.Fatal("module ready without an orphan event")
			}
			if e.Kind != dect.EventOrphan {
				continue
			}
			if e.Handset != 4 || e.IPEI.String() != ghost.State().IPEI || e.Reason != "removed from module" {
				t.Errorf("orphan %v", e)
			}
		case <-ctx.Done():
			t.Fatal("no orphan event")
		}
		break
	}
}
