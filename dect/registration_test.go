package dect_test

import (
	"errors"
	"testing"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/hal"
	"basestation/sim/radio"
)

func TestPairLinxWithRightPIN(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{IPEI: 0x0123456789, Model: "Linx L2"})
	start := time.Now()
	if err := r.drv.OpenRegistration(ctxT(t, 5*time.Second), 0, "4711"); err != nil {
		t.Fatal(err)
	}
	op := r.waitEvent(dect.EventRegistrationOpened, time.Second)
	if w := op.Until.Sub(start); w < 59*time.Second || w > 61*time.Second {
		t.Errorf("default window %v, want 60 s", w)
	}
	if !r.emu.RegistrationOpen() {
		t.Fatal("module window not open after OpenRegistration returned")
	}
	if st := r.drv.Status(); !st.Ready || !st.RegistrationOpen || st.Firmware != "emu-1.0" || st.Slots != 4 || st.Capacity != 6 {
		t.Errorf("status %+v", st)
	}
	if got := r.led.last(); got != hal.LEDBlinkFast {
		t.Errorf("LED %v while open, want blinking", got)
	}
	linx.PowerOn()
	if err := linx.Pair(ctxT(t, 5*time.Second), "4711"); err != nil {
		t.Fatalf("pair: %v", err)
	}
	ev := r.waitEvent(dect.EventPaired, 5*time.Second)
	if ev.Device.Type != dect.Linx || ev.Device.IPEI != (dect.IPEI{EMC: 0x1234, PSN: 0x56789}) ||
		ev.Device.Model != "Linx L2" || ev.Device.Wideband || ev.Device.Handset != 1 {
		t.Errorf("paired event %+v", ev.Device)
	}
	cl := r.waitEvent(dect.EventRegistrationClosed, 2*time.Second)
	if cl.Reason != "paired" {
		t.Errorf("closed reason %q, want paired", cl.Reason)
	}
	if r.emu.RegistrationOpen() {
		t.Error("module window still open after pairing")
	}
	if got := r.led.last(); got != hal.LEDOff {
		t.Errorf("LED %v after close, want off", got)
	}
	// The device attaches and authenticates with its new key.
	waitDev(t, linx, "attach", func(s radio.DeviceState) bool { return s.Attached && s.Handset == 1 })
	// Stored on disk, and on the module.
	tab, _, err := dect.LoadTable(r.dir)
	if err != nil || len(tab.Devices) != 1 || tab.Devices[0].IPEI != ev.Device.IPEI || tab.Devices[0].UAK == ([16]byte{}) {
		t.Fatalf("stored table %+v, %v", tab, err)
	}
	if mt := r.emu.Table(); len(mt) != 1 || mt[0].Handset != 1 || mt[0].Type != "linx" {
		t.Errorf("module table %+v", mt)
	}
}

func TestPairHeadset(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dev := r.pair(hs, "0000")
	info := dev.Info()
	if info.Type != dect.Headset || !info.Wideband || info.Model != "Headset H1" {
		t.Errorf("headset info %+v", info)
	}
	if info.IPEI.String() != hs.State().IPEI {
		t.Errorf("IPEI %s on host, %s on device", info.IPEI, hs.State().IPEI)
	}
}

func TestWrongPINRefusedAndLockout(t *testing.T) {
	r := newRig(t, rigOpts{drv: &dect.Options{LockoutAttempts: 3, LockoutDuration: time.Minute}})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	linx.PowerOn()
	if err := r.drv.OpenRegistration(ctxT(t, 5*time.Second), 30*time.Second, "1234"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		err := linx.Pair(ctxT(t, 5*time.Second), "9999")
		var pe *radio.PairError
		if !errors.As(err, &pe) || pe.Reason != "wrong-pin" {
			t.Fatalf("attempt %d: %v, want wrong-pin refusal", i, err)
		}
		ev := r.waitEvent(dect.EventWrongPIN, time.Second)
		if ev.IPEI.String() != linx.State().IPEI {
			t.Errorf("wrong-PIN event for %v", ev.IPEI)
		}
	}
	if linx.State().Registered || len(r.drv.Devices()) != 0 {
		t.Fatal("device registered after wrong PINs")
	}
	if r.emu.DeviceByIPEI(linx.IPEI()) != linx {
		t.Error("DeviceByIPEI")
	}
	// Third wrong PIN: lockout closes the window and refuses reopening.
	if err := linx.Pair(ctxT(t, 5*time.Second), "1111"); err == nil {
		t.Fatal("third wrong PIN accepted")
	}
	if ev := r.waitEvent(dect.EventRegistrationClosed, 2*time.Second); ev.Reason != "lockout" {
		t.Errorf("closed reason %q, want lockout", ev.Reason)
	}
	err := r.drv.OpenRegistration(ctxT(t, 5*time.Second), 30*time.Second, "1234")
	if !errors.Is(err, dect.ErrLockedOut) {
		t.Fatalf("open during lockout: %v", err)
	}
	if ev := r.waitEvent(dect.EventRegistrationRefused, time.Second); ev.Reason != "locked-out" {
		t.Errorf("refused reason %q", ev.Reason)
	}
	if st := r.drv.Status(); st.LockedOutUntil.IsZero() || st.RegistrationOpen {
		t.Errorf("status %+v", st)
	}
	// The right PIN cannot pair either: the window is closed.
	var pe *radio.PairError
	if err := linx.Pair(ctxT(t, 5*time.Second), "1234"); !errors.As(err, &pe) || pe.Reason != "not-open" {
		t.Fatalf("pair during lockout: %v", err)
	}
}

func TestPairAfterWindowClosedRefused(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	linx.PowerOn()
	if err := r.drv.OpenRegistration(ctxT(t, 5*time.Second), 30*time.Second, "1234"); err != nil {
		t.Fatal(err)
	}
	if err := r.drv.CloseRegistration(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ev := r.waitEvent(dect.EventRegistrationClosed, time.Second); ev.Reason != "closed" {
		t.Errorf("reason %q", ev.Reason)
	}
	var pe *radio.PairError
	if err := linx.Pair(ctxT(t, 5*time.Second), "1234"); !errors.As(err, &pe) || pe.Reason != "not-open" {
		t.Fatalf("pair after close: %v", err)
	}
	r.noEvent(dect.EventPaired, 200*time.Millisecond)
	if len(r.drv.Devices()) != 0 {
		t.Fatal("device stored")
	}
}

func TestWindowClosesAtTimeout(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	linx.PowerOn()
	opened := time.Now()
	if err := r.drv.OpenRegistration(ctxT(t, 5*time.Second), time.Second, "1234"); err != nil {
		t.Fatal(err)
	}
	ev := r.waitEvent(dect.EventRegistrationClosed, 3*time.Second)
	if ev.Reason != "timeout" {
		t.Errorf("reason %q, want timeout", ev.Reason)
	}
	if d := time.Since(opened); d < 900*time.Millisecond {
		t.Errorf("closed after %v, before the 1 s window ended", d)
	}
	if open, _ := r.drv.RegistrationOpen(); open {
		t.Error("driver still open")
	}
	time.Sleep(50 * time.Millisecond)
	if r.emu.RegistrationOpen() {
		t.Error("module still open")
	}
	var pe *radio.PairError
	if err := linx.Pair(ctxT(t, 5*time.Second), "1234"); !errors.As(err, &pe) || pe.Reason != "not-open" {
		t.Fatalf("pair after timeout: %v", err)
	}
}

func TestWindowLimits(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := ctxT(t, 5*time.Second)
	if err := r.drv.OpenRegistration(ctx, 121*time.Second, "1234"); !errors.Is(err, dect.ErrBadRequest) {
		t.Errorf("121 s window: %v", err)
	}
	if err := r.drv.OpenRegistration(ctx, 10*time.Second, "12a4"); !errors.Is(err, dect.ErrBadRequest) {
		t.Errorf("bad PIN: %v", err)
	}
	if ev := r.waitEvent(dect.EventRegistrationRefused, time.Second); ev.Reason != "invalid" {
		t.Errorf("reason %q", ev.Reason)
	}
	if r.emu.RegistrationOpen() {
		t.Error("module opened on an invalid request")
	}
}

func TestTableFullRefused(t *testing.T) {
	r := newRig(t, rigOpts{drv: &dect.Options{MaxDevices: 1}})
	r.pair(r.emu.NewLinx(radio.DeviceOptions{}), "1234")
	// The host closes the pairing window after the pairing; wait for the
	// module to confirm it, or the check below races the REG-CLOSE.
	r.waitEvent(dect.EventRegistrationClosed, 5*time.Second)
	err := r.drv.OpenRegistration(ctxT(t, 5*time.Second), 30*time.Second, "1234")
	if !errors.Is(err, dect.ErrTableFull) {
		t.Fatalf("open with full table: %v", err)
	}
	if ev := r.waitEvent(dect.EventRegistrationRefused, time.Second); ev.Reason != "table-full" {
		t.Errorf("reason %q", ev.Reason)
	}
	if r.emu.RegistrationOpen() {
		t.Error("module window opened")
	}
}

func TestModuleCapacityLimitsTable(t *testing.T) {
	r := newRig(t, rigOpts{emu: &radio.Options{Capacity: 1}, drv: &dect.Options{MaxDevices: 6}})
	r.pair(r.emu.NewHeadset(radio.DeviceOptions{}), "1234")
	if err := r.drv.OpenRegistration(ctxT(t, 5*time.Second), 30*time.Second, "1234"); !errors.Is(err, dect.ErrTableFull) {
		t.Fatalf("open beyond module capacity: %v", err)
	}
}

func TestRefusedWhenModuleNotReady(t *testing.T) {
	drv, err := dect.New(hal.Radio{Device: "/nonexistent"}, &dect.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, time.Second)
	if err := drv.OpenRegistration(ctx, 0, "0000"); !errors.Is(err, dect.ErrNotReady) {
		t.Fatalf("open without module: %v", err)
	}
	if e := <-drv.Events(); e.Kind != dect.EventRegistrationRefused || e.Reason != "module-not-ready" {
		t.Errorf("event %v", e)
	}
	if err := drv.Deregister(ctx, 3); !errors.Is(err, dect.ErrUnknownDevice) {
		t.Errorf("deregister unknown: %v", err)
	}
	if err := drv.Run(ctx); err == nil {
		t.Error("Run with a missing serial device returned nil")
	}
}

func TestNamesToCodes(t *testing.T) {
	for name, want := range map[string]byte{"": 0, "normal": 0, "distinctive1": 1, "distinctive-3": 3, "bellcore-dr5": 5} {
		if got, err := dect.Cadence(endpoint.Cadence(name)); err != nil || got != want {
			t.Errorf("Cadence(%q) = %d, %v", name, got, err)
		}
	}
	for _, bad := range []string{"distinctive6", "loud", "bellcore-dr"} {
		if _, err := dect.Cadence(endpoint.Cadence(bad)); !errors.Is(err, dect.ErrBadRequest) {
			t.Errorf("Cadence(%q): %v", bad, err)
		}
	}
	for name, want := range map[string]byte{"dial": 1, "stutter-dial": 2, "ringback": 3, "busy": 4, "reorder": 5, "call-waiting": 6, "sit-intercept": 7, "out-of-service": 7, "off": 0} {
		if got, err := dect.ToneCode(endpoint.Tone(name)); err != nil || got != want {
			t.Errorf("ToneCode(%q) = %d, %v", name, got, err)
		}
	}
	if _, err := dect.ToneCode("howler"); !errors.Is(err, dect.ErrBadRequest) {
		t.Error("unknown tone accepted")
	}
}

func TestOptionsValidated(t *testing.T) {
	for name, o := range map[string]dect.Options{
		"no state dir":   {},
		"too many":       {StateDir: t.TempDir(), MaxDevices: 33},
		"window > 120 s": {StateDir: t.TempDir(), MaxWindow: 121 * time.Second},
		"default > max":  {StateDir: t.TempDir(), Window: 90 * time.Second, MaxWindow: 60 * time.Second},
	} {
		if _, err := dect.New(hal.Radio{Device: "/dev/null"}, &o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
