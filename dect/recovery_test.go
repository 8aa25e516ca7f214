package dect_test

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"runtime"
	"testing"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/hal"
	"basestation/sim/radio"
)

func TestModuleResetMidCallRecovered(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dl := r.pair(linx, "1234")
	dh := r.pair(hs, "1234")
	before := r.drv.Devices()
	ctx := ctxT(t, 20*time.Second)
	if err := dh.Ring(endpoint.CallerID{Number: "200"}, ""); err != nil {
		t.Fatal(err)
	}
	waitDev(t, hs, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
	hs.Answer()
	devEvent(t, dh, dect.OffHook)
	pcm, err := dh.ConnectAudioAt(hal.RateWideband)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	r.emu.ResetModule()
	if e := devEvent(t, dh, dect.OnHook); e.Reason != "module-reset" {
		t.Errorf("call end %+v", e)
	}
	if err := pcm.ReadFrame(ctx, make([]int16, hal.FrameSamples(pcm.Rate()))); err == nil {
		t.Error("audio channel still open after the module reset")
	}
	e := r.waitEvent(dect.EventModuleReady, 2*time.Second)
	if e.Reason != "recovered" {
		t.Errorf("ready reason %q", e.Reason)
	}
	waitAttached(t, dl)
	waitAttached(t, dh)
	took := time.Since(start)
	t.Logf("recovered and both devices re-authenticated in %v", took)
	if took > 2*time.Second {
		t.Errorf("recovery took %v, want < 2 s", took)
	}
	if after := r.drv.Devices(); !reflect.DeepEqual(before, after) {
		t.Errorf("pairings changed:\n%v\n%v", before, after)
	}
	if len(r.emu.Table()) != 2 {
		t.Errorf("module table %+v", r.emu.Table())
	}
	// A new call works on the same pairing.
	hs.HangUp()
	if err := dh.Ring(endpoint.CallerID{Number: "201"}, ""); err != nil {
		t.Fatal(err)
	}
	waitDev(t, hs, "ringing again", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging && s.Caller.Number == "201" })
}

func TestModuleLostTableResynced(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	dl := r.pair(linx, "1234")
	r.emu.FactoryReset() // the module's flash is wiped
	r.waitEvent(dect.EventModuleReady, 3*time.Second)
	if mt := r.emu.Table(); len(mt) != 1 || mt[0].IPEI != linx.IPEI() || mt[0].Handset != dl.Handset() {
		t.Fatalf("module table not re-synced: %+v", mt)
	}
	waitAttached(t, dl)
}

func TestHungModuleResetThroughPin(t *testing.T) {
	r := newRig(t, rigOpts{drv: &dect.Options{KeepaliveInterval: 100 * time.Millisecond, KeepaliveMisses: 3}})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dh := r.pair(hs, "1234")
	boots := r.emu.Stats().Boots
	r.emu.SetHung(true)
	if e := r.waitEvent(dect.EventModuleLost, 3*time.Second); e.Reason == "" {
		t.Error("no reason")
	}
	r.waitEvent(dect.EventModuleReady, 3*time.Second)
	if r.emu.Stats().Boots <= boots {
		t.Error("module was not rebooted through its reset pin")
	}
	waitAttached(t, dh)
}

func TestFaultyLink(t *testing.T) {
	// Short retransmission timers on both sides keep the test quick; the
	// pty's round trip is well under them.
	r := newRig(t, rigOpts{emu: &radio.Options{Seed: 7, AckTimeout: 40 * time.Millisecond},
		drv: &dect.Options{AckTimeout: 40 * time.Millisecond}})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	dl := r.pair(linx, "1234")
	r.emu.SetFaults(radio.Faults{CorruptRate: 0.01, DropRate: 0.01, DupRate: 0.01})
	base := len(linx.MWILog())
	n := 150
	if testing.Short() {
		n = 60
	}
	var want []string
	for i := 1; i <= n; i++ {
		on := i%2 == 1
		if err := dl.SetMessageCount(on, i%256); err != nil {
			t.Fatalf("MWI %d: %v", i, err)
		}
		st := "off"
		if on {
			st = "on"
		}
		want = append(want, fmt.Sprintf("%s %d", st, i%256))
	}
	if got := linx.MWILog()[base:]; !reflect.DeepEqual(got, want) {
		t.Fatalf("module acted on MWI requests %d times, want %d (duplicates or losses)\n got %v", len(got), len(want), got)
	}
	// Module → host: digits during a call arrive once each, in order.
	if err := linx.OffHook(); err != nil {
		t.Fatal(err)
	}
	devEvent(t, dl, dect.OffHook)
	waitDev(t, linx, "dialing", func(s radio.DeviceState) bool { return s.Call == radio.CallDialing })
	if err := linx.Dial("#"); err != nil { // no number: '#' alone keeps dialing
		t.Fatal(err)
	}
	if err := linx.Dial("1#"); err != nil {
		t.Fatal(err)
	}
	devEvent(t, dl, dect.Dialed)
	digits := "0123456789*#0123456789*#0123456789*#0123456789"
	if err := linx.Dial(digits); err != nil {
		t.Fatal(err)
	}
	var got []byte
	tm := time.After(30 * time.Second)
	for len(got) < len(digits) {
		select {
		case e := <-dl.Events():
			if e.Kind == dect.Digit {
				got = append(got, e.Digit)
			}
		case <-tm:
			t.Fatalf("got %d of %d digits: %q", len(got), len(digits), got)
		}
	}
	if string(got) != digits {
		t.Fatalf("digits %q, want %q", got, digits)
	}
	noDeviceEvent(t, dl, 300*time.Millisecond)
	st := r.emu.Stats()
	t.Logf("link stats: %+v", st)
	if st.Duplicates == 0 && st.Retransmits == 0 {
		t.Error("faults never triggered a retransmission or duplicate; the test proved nothing")
	}
	if !r.drv.Ready() {
		t.Error("driver lost the module on a 1% faulty link")
	}
}

func TestSerialPortGoneReported(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.emu.Close() // the UART disappears (pty master closed: reads fail with EIO)
	e := r.waitEvent(dect.EventModuleLost, 3*time.Second)
	if e.Reason == "" {
		t.Error("no reason")
	}
	t.Logf("lost: %s", e.Reason)
	if r.drv.Ready() {
		t.Error("driver still ready")
	}
	start := time.Now()
	r.stop() // Run returns promptly although the port cannot be reopened
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop took %v", d)
	}
}

// TestFaultyLinkEveryCommand runs the whole life of two devices over a link
// that corrupts 1% of bytes and drops and duplicates 1% of frames in both
// directions, from the handshake on: every command completes.
func TestFaultyLinkEveryCommand(t *testing.T) {
	emu, err := radio.New(&radio.Options{AckTimeout: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	emu.SetFaults(radio.Faults{CorruptRate: 0.01, DropRate: 0.01, DupRate: 0.01})
	r := newRig(t, rigOpts{emuX: emu, drv: &dect.Options{AckTimeout: 40 * time.Millisecond}})
	linx := emu.NewLinx(radio.DeviceOptions{})
	hs := emu.NewHeadset(radio.DeviceOptions{})
	dl := r.pair(linx, "2580")
	dh := r.pair(hs, "2580")
	ctx := ctxT(t, 60*time.Second)
	for round := 0; round < 3; round++ {
		// Incoming call on the headset, wideband audio.
		if err := dh.Ring(endpoint.CallerID{Number: "6135550100", Name: "BOB"}, "normal"); err != nil {
			t.Fatal(err)
		}
		waitDev(t, hs, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
		if err := hs.Answer(); err != nil {
			t.Fatal(err)
		}
		if e := devEvent(t, dh, dect.OffHook); !e.Answer {
			t.Fatalf("off-hook %+v (device %+v)", e, hs.State())
		}
		pcm, err := dh.ConnectAudioAt(hal.RateWideband)
		if err != nil {
			t.Fatal(err)
		}
		if pcm.Rate() != hal.RateWideband {
			t.Errorf("rate %d", pcm.Rate())
		}
		if err := dh.AlertCallWaiting(endpoint.CallerID{Number: "100"}); err != nil {
			t.Fatal(err)
		}
		if err := dh.Release(); err != nil {
			t.Fatal(err)
		}
		waitDev(t, hs, "released", func(s radio.DeviceState) bool { return s.Call == radio.CallIdle })
		// Outgoing call on the Linx.
		linx.OffHook()
		devEvent(t, dl, dect.OffHook)
		waitDev(t, linx, "dialing", func(s radio.DeviceState) bool { return s.Call == radio.CallDialing })
		if err := dl.PlayTone("dial"); err != nil {
			t.Fatal(err)
		}
		linx.Dial("6135550199#")
		if e := devEvent(t, dl, dect.Dialed); e.Number != "6135550199" {
			t.Errorf("dialed %q", e.Number)
		}
		if _, err := dl.ConnectAudioAt(hal.RateWideband); err != nil {
			t.Fatal(err)
		}
		linx.HangUp()
		devEvent(t, dl, dect.OnHook)
		if err := dl.SetMessageCount(round%2 == 0, round); err != nil {
			t.Fatal(err)
		}
		if err := r.drv.SetDateTime(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.drv.Deregister(ctx, dl.Handset()); err != nil {
		t.Fatal(err)
	}
	waitDev(t, linx, "deregistered", func(s radio.DeviceState) bool { return !s.Registered })
	t.Logf("link stats: %+v", emu.Stats())
}

// TestModuleResetAtRandomMoments resets the module at random points of
// call traffic; each time the driver recovers with every pairing intact.
func TestModuleResetAtRandomMoments(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dl := r.pair(linx, "1234")
	dh := r.pair(hs, "1234")
	before := r.drv.Devices()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	for i := 0; i < rounds; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { // traffic; errors are expected while the module is down
			defer close(done)
			for ctx.Err() == nil {
				_ = dh.Ring(endpoint.CallerID{Number: "1"}, "")
				_ = hs.Answer()
				_, _ = dh.ConnectAudioAt(hal.RateWideband)
				_ = dl.SetMessageCount(true, 1)
				_ = dh.Release()
				_ = hs.HangUp()
				time.Sleep(5 * time.Millisecond)
			}
		}()
		time.Sleep(time.Duration(rng.Intn(150)) * time.Millisecond)
		r.emu.ResetModule()
		r.waitEvent(dect.EventModuleReady, 3*time.Second)
		cancel()
		<-done
		waitAttached(t, dl)
		waitAttached(t, dh)
		if after := r.drv.Devices(); !reflect.DeepEqual(before, after) {
			t.Fatalf("round %d: pairings changed", i)
		}
		if n := len(r.emu.Table()); n != 2 {
			t.Fatalf("round %d: module table has %d entries", i, n)
		}
	}
	// Still fully working.
	hs.HangUp()
	waitDev(t, hs, "idle", func(s radio.DeviceState) bool { return s.Call == radio.CallIdle && s.Attached })
	if err := dh.Ring(endpoint.CallerID{Number: "2"}, ""); err != nil {
		t.Fatal(err)
	}
	waitDev(t, hs, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
}

// TestModuleResetKeepsRegistrationWindow (soak F9): a module reset the
// administrator did not ask for (the module's own reset, or the base's
// recovery from a lost link) does not close an open registration window:
// after start-up it is open in the module again, with its PIN, until its
// own end, and a device can pair meanwhile.
func TestModuleResetKeepsRegistrationWindow(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	linx.PowerOn()
	opened := time.Now()
	if err := r.drv.OpenRegistration(ctxT(t, 5*time.Second), 4*time.Second, "4321"); err != nil {
		t.Fatal(err)
	}
	r.waitEvent(dect.EventRegistrationOpened, time.Second)
	r.emu.ResetModule()
	if e := r.waitEvent(dect.EventModuleReady, 3*time.Second); e.Reason != "recovered" {
		t.Fatalf("ready reason %q", e.Reason)
	}
	if open, until := r.drv.RegistrationOpen(); !open || until.Before(opened.Add(3900*time.Millisecond)) {
		t.Fatalf("after the reset the driver's window is open=%v until %v", open, until)
	}
	if !r.emu.RegistrationOpen() {
		t.Fatal("the module's window is closed after the reset")
	}
	if err := linx.Pair(ctxT(t, 5*time.Second), "4321"); err != nil {
		t.Fatalf("pairing in the window that outlived the reset: %v", err)
	}
	if e := r.waitEvent(dect.EventPaired, 5*time.Second); e.Device.Handset == 0 {
		t.Fatalf("paired %+v", e.Device)
	}
	// Pairing closes the window, as always.
	if e := r.waitEvent(dect.EventRegistrationClosed, time.Second); e.Reason != "paired" {
		t.Fatalf("window closed %q, want paired", e.Reason)
	}

	// Unused, it still ends at its own time, in the module too.
	opened = time.Now()
	if err := r.drv.OpenRegistration(ctxT(t, 5*time.Second), 2*time.Second, "4321"); err != nil {
		t.Fatal(err)
	}
	r.emu.ResetModule()
	r.waitEvent(dect.EventModuleReady, 3*time.Second)
	e := r.waitEvent(dect.EventRegistrationClosed, 4*time.Second)
	if e.Reason != "timeout" || time.Since(opened) < 1900*time.Millisecond {
		t.Fatalf("window closed %q after %v, want timeout after 2 s", e.Reason, time.Since(opened))
	}
	time.Sleep(100 * time.Millisecond)
	if r.emu.RegistrationOpen() {
		t.Error("the module's window is still open after the end")
	}
}

// TestReleasedDeviceIdleOnlyWithItsOnHook (soak seed 2 step 471): while
// Release tells the module, the device is not yet idle; once it reads
// idle, its OnHook ("released") is already on the event channel. The
// base reports the line from Activity and the call layer learns of the
// on-hook from the event: a call offered when the line reads idle must
// not find the device still off-hook in the call layer.
func TestReleasedDeviceIdleOnlyWithItsOnHook(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dh := r.pair(hs, "1234")
	for round := range 5 {
		if err := dh.Ring(endpoint.CallerID{Number: "200"}, ""); err != nil {
			t.Fatal(err)
		}
		waitDev(t, hs, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
		hs.Answer()
		devEvent(t, dh, dect.OffHook)
		if a := dh.Activity(); a == endpoint.Idle {
			t.Fatalf("round %d: activity %v during the call", round, a)
		}
		done := make(chan error, 1)
		go func() { done <- dh.Release() }()
		for dh.Activity() != endpoint.Idle {
			runtime.Gosched()
		}
		select {
		case e := <-dh.Events():
			if e.Kind != dect.OnHook || e.Reason != "released" {
				t.Fatalf("round %d: event %+v, want OnHook released", round, e)
			}
		default:
			t.Fatalf("round %d: the device reads idle before its on-hook is reported", round)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		waitDev(t, hs, "released", func(s radio.DeviceState) bool { return s.Call == radio.CallIdle })
	}
}
