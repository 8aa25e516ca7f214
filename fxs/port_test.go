package fxs

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestDialToneWithin100ms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		t0 := time.Now()
		r.ph.offHook()
		// The idle line read no PCM; once off-hook it is in step with
		// the frame clock within a few frames and stays so.
		time.Sleep(100 * time.Millisecond)
		st0 := r.m.Stats()
		time.Sleep(400 * time.Millisecond)
		if st := r.m.Stats(); st.PCMUnderruns != st0.PCMUnderruns || st.PCMOverruns != st0.PCMOverruns {
			t.Errorf("PCM under/overruns while running: %+v → %+v", st0, st)
		}
		e := r.mustEvent(EvOffHook, 0)
		if e.Answer {
			t.Fatal("off-hook reported as answer")
		}
		rec, start := r.ph.recording(t0)
		segs := segments(rec, 300, 80)
		if len(segs) == 0 {
			t.Fatal("no dial tone")
		}
		lat := start.Add(samplesDur(segs[0].start)).Sub(t0)
		if lat > 100*time.Millisecond {
			t.Fatalf("dial tone %v after off-hook", lat)
		}
		tone := rec[segs[0].start : segs[0].start+3200]
		if s := toneShare(tone, 350, 440); s < 0.9 {
			t.Fatalf("dial tone: 350+440 Hz carry %.2f of the power", s)
		}
		if s := toneShare(tone, 480, 620); s > 0.05 {
			t.Fatalf("dial tone: 480+620 carry %.2f", s)
		}
		if r.p.State() != StateDialing {
			t.Fatalf("state %v", r.p.State())
		}
		t.Logf("dial tone after %v", lat)
	})
}

func TestDTMFDialingAndEmergency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		r.ph.offHook()
		time.Sleep(300 * time.Millisecond)
		for _, d := range []byte("911") {
			r.ph.say(testDTMF(d, 80*time.Millisecond, 80*time.Millisecond))
		}
		e := r.mustEvent(EvDialed, 700*time.Millisecond) // no inter-digit wait
		if e.Number != "911" || !e.Emergency {
			t.Fatalf("dialed %+v", e)
		}
		if r.p.State() != StateCall {
			t.Fatalf("state %v", r.p.State())
		}
		// Digits during the call are reported.
		r.clearEvents()
		r.ph.say(testDTMF('5', 100*time.Millisecond, 100*time.Millisecond))
		d := r.mustEvent(EvDigit, 500*time.Millisecond)
		end := r.mustEvent(EvDigitEnd, 500*time.Millisecond)
		if d.Digit != '5' || end.Digit != '5' || end.Duration < 80*time.Millisecond || end.Duration > 120*time.Millisecond {
			t.Fatalf("digit %v end %v", d, end)
		}
		r.ph.onHook()
		r.mustEvent(EvOnHook, 1500*time.Millisecond)
		if r.p.State() != StateIdle {
			t.Fatalf("state %v after hang-up", r.p.State())
		}
	})
}

func TestDialPlanTimeoutsAndPound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		dial := func(s string) {
			r.ph.offHook()
			time.Sleep(200 * time.Millisecond)
			for i := 0; i < len(s); i++ {
				r.ph.say(testDTMF(s[i], 70*time.Millisecond, 70*time.Millisecond))
			}
		}
		hang := func() {
			r.ph.onHook()
			r.mustEvent(EvOnHook, 1500*time.Millisecond)
			r.clearEvents()
		}
		// 10 digits complete at once.
		t0 := time.Now()
		dial("6135551234")
		e := r.mustEvent(EvDialed, 3*time.Second)
		if e.Number != "6135551234" || time.Since(t0) > 2500*time.Millisecond {
			t.Fatalf("%+v after %v", e, time.Since(t0))
		}
		hang()
		// 011… ends with '#', without waiting.
		dial("01144207#")
		e = r.mustEvent(EvDialed, 2*time.Second)
		if e.Number != "01144207" {
			t.Fatalf("%+v", e)
		}
		hang()
		// Extension 1613 waits for the short timer (1+10 digits could follow).
		dial("1613")
		if _, ok := r.waitEvent(EvDialed, 2*time.Second); ok {
			t.Fatal("1613 completed before the short inter-digit timer")
		}
		e = r.mustEvent(EvDialed, 3*time.Second)
		if e.Number != "1613" {
			t.Fatalf("%+v", e)
		}
		hang()
		// Not in the plan: reorder at once.
		dial("5550")
		e = r.mustEvent(EvDialFailed, time.Second)
		if e.Number != "5550" {
			t.Fatalf("%+v", e)
		}
		hang()
		// An incomplete number times out into reorder.
		dial("61355")
		e = r.mustEvent(EvDialFailed, 12*time.Second)
		if e.Number != "61355" || r.p.State() != StateLockout {
			t.Fatalf("%+v state %v", e, r.p.State())
		}
		hang()
	})
}

func TestPulseDialingAllDigits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.DialPlan = "x.T"
		cfg.EmergencyNumbers = nil
		r := newRig(t, cfg)
		defer r.stop()
		r.ph.offHook()
		time.Sleep(500 * time.Millisecond)
		for _, d := range []byte("1234567890") {
			r.ph.rotary(d)
			time.Sleep(700 * time.Millisecond)
		}
		e := r.mustEvent(EvDialed, 5*time.Second)
		if e.Number != "1234567890" {
			t.Fatalf("pulse digits decoded as %q", e.Number)
		}
	})
}

// Rotary dials at the edges the simulator offers, 8 pps 66/34 and 12 pps
// 60/40 (make 33 ms), are collected through the port loop with the
// production hook windows: in exact (virtual) time the daemon misses no
// pulse. (basesim's TestRotaryDialSpeeds runs in wall-clock time, where a
// stall of the simulated chip's debounce timer can swallow a pulse.)
func TestPulseDialingSpeeds(t *testing.T) {
	for _, c := range []struct {
		name    string
		brk, mk time.Duration
	}{
		{"8pps-66/34", 82500 * time.Microsecond, 42500 * time.Microsecond},
		{"12pps-60/40", 50 * time.Millisecond, 33333 * time.Microsecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.DialPlan = "x.T"
				cfg.EmergencyNumbers = nil
				r := newRig(t, cfg)
				defer r.stop()
				r.ph.offHook()
				time.Sleep(300 * time.Millisecond)
				for _, d := range []byte("1029") {
					r.ph.rotaryAt(d, c.brk, c.mk)
					time.Sleep(600 * time.Millisecond)
				}
				e := r.mustEvent(EvDialed, 5*time.Second)
				if e.Number != "1029" {
					t.Fatalf("pulse digits decoded as %q, want 1029", e.Number)
				}
			})
		})
	}
}

func TestHookFlashWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		r.ph.offHook()
		time.Sleep(200 * time.Millisecond)
		for _, d := range []byte("911") {
			r.ph.say(testDTMF(d, 80*time.Millisecond, 80*time.Millisecond))
		}
		r.mustEvent(EvDialed, time.Second)
		for _, c := range []struct {
			down  time.Duration
			flash bool
		}{{10 * time.Millisecond, false}, {250 * time.Millisecond, false}, {350 * time.Millisecond, true},
			{600 * time.Millisecond, true}, {950 * time.Millisecond, true}} {
			r.clearEvents()
			r.ph.onHook()
			time.Sleep(c.down)
			r.ph.offHook()
			time.Sleep(1500 * time.Millisecond)
			evs := r.events()
			got := len(evs) == 1 && evs[0].Kind == EvFlash
			if got != c.flash || (!c.flash && len(evs) != 0) {
				t.Fatalf("on-hook %v: events %v", c.down, evs)
			}
			if c.flash && (evs[0].Duration < c.down-20*time.Millisecond || evs[0].Duration > c.down+20*time.Millisecond) {
				t.Fatalf("flash duration %v for %v", evs[0].Duration, c.down)
			}
		}
		// A single dial pulse during a call is a rotary digit.
		r.clearEvents()
		r.ph.rotary('1')
		time.Sleep(500 * time.Millisecond)
		if evs := r.events(); len(evs) != 1 || evs[0].Kind != EvDigit || !evs[0].Pulse || evs[0].Digit != '1' {
			t.Fatalf("one pulse in a call: %v", evs)
		}
		// Longer than FlashMax: hang-up.
		r.clearEvents()
		r.ph.onHook()
		time.Sleep(1200 * time.Millisecond)
		evs := r.events()
		if len(evs) != 1 || evs[0].Kind != EvOnHook {
			t.Fatalf("on-hook 1.2 s: %v", evs)
		}
	})
}

func TestRunEndLeavesLineSafe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		if err := r.p.ring(ringRequest{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		r.stop()
		if prog, actual := r.m.Linefeed(); prog != 0 || actual != 0 {
			t.Fatalf("linefeed %v/%v after Run", prog, actual)
		}
		tEnd := time.Now()
		time.Sleep(3 * time.Second) // (the model's clock is stopped too)
		if on, _ := ringEdges(r.m, tEnd); len(on) != 0 {
			t.Fatal("still ringing")
		}
		if err := r.p.ring(ringRequest{}); err != ErrNotRunning {
			t.Fatalf("Ring after Run: %v", err)
		}
	})
}

func TestFlashThenCollectDigits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		r.ph.offHook()
		time.Sleep(200 * time.Millisecond)
		for _, d := range []byte("6135550100") {
			r.ph.say(testDTMF(d, 70*time.Millisecond, 70*time.Millisecond))
		}
		r.mustEvent(EvDialed, 3*time.Second)
		r.ph.onHook()
		time.Sleep(500 * time.Millisecond)
		r.ph.offHook()
		r.mustEvent(EvFlash, 300*time.Millisecond)
		r.clearEvents()
		t0 := time.Now()
		if err := r.p.CollectDigits(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond)
		rec, _ := r.ph.recording(t0)
		segs := segments(rec, 300, 80)
		if len(segs) != 4 {
			t.Fatalf("recall dial tone: %d segments, want 3 bursts + steady", len(segs))
		}
		checkCadence(t, "recall", segs, []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}, 3)
		for _, d := range []byte("1234") {
			r.ph.say(testDTMF(d, 70*time.Millisecond, 70*time.Millisecond))
		}
		if e := r.mustEvent(EvDialed, 5*time.Second); e.Number != "1234" {
			t.Fatalf("%+v", e)
		}
		if err := r.p.CollectDigits(); err != nil {
			t.Fatal(err)
		}
		r.ph.onHook()
		r.mustEvent(EvOnHook, 1500*time.Millisecond)
		if err := r.p.CollectDigits(); err != ErrNotInCall {
			t.Fatalf("CollectDigits on-hook: %v", err)
		}
	})
}

func TestActionErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		if _, err := r.p.ConnectAudio(); err != ErrNotInCall {
			t.Errorf("ConnectAudio idle: %v", err)
		}
		if err := r.p.callWaiting(nil); err != ErrNotInCall {
			t.Errorf("CallWaiting idle: %v", err)
		}
		if err := r.p.PlayTone("busy"); err != ErrOnHook {
			t.Errorf("PlayTone on-hook: %v", err)
		}
		if err := r.p.StopRinging(); err != nil {
			t.Errorf("StopRinging idle: %v", err)
		}
		r.ph.offHook()
		time.Sleep(100 * time.Millisecond)
		if err := r.p.ring(ringRequest{}); err != ErrOffHook {
			t.Errorf("Ring off-hook: %v", err)
		}
		if r.p.Hook().String() != "off-hook" || r.p.State() != StateDialing {
			t.Errorf("hook %v state %v", r.p.Hook(), r.p.State())
		}
		if err := r.p.SetMessageWaiting(true); err != nil || !r.p.MessageWaiting() {
			t.Errorf("SetMessageWaiting: %v", err)
		}
		cfg := r.p.Config()
		cfg.Cadences["normal"][0] = 0 // a copy: the port is unaffected
		if r.p.Config().Cadences["normal"][0] != 2*time.Second {
			t.Error("Config() shares the port's cadences")
		}
	})
	bad := DefaultConfig()
	bad.FlashMax = bad.FlashMin
	if _, err := NewWithSLIC(nopSLIC{}, nopPCM{}, bad, nil); err == nil {
		t.Error("invalid config accepted")
	}
	p, err := NewWithSLIC(nopSLIC{}, nopPCM{}, DefaultConfig(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetMessageWaiting(true); err != nil || !p.MessageWaiting() {
		t.Errorf("SetMessageWaiting before Run: %v", err)
	}
	if err := p.ring(ringRequest{}); err != ErrNotRunning {
		t.Errorf("Ring before Run: %v", err)
	}
}

func TestHotlineAndWarmline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Hotline = "6135550000"
		r := newRig(t, cfg)
		defer r.stop()
		t0 := time.Now()
		r.ph.offHook()
		e := r.mustEvent(EvDialed, time.Second)
		if e.Number != "6135550000" {
			t.Fatalf("%+v", e)
		}
		if rec, _ := r.ph.recording(t0); len(segments(rec, 300, 80)) != 0 {
			t.Fatal("hotline played dial tone")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Hotline = "611"
		cfg.HotlineDelay = 4 * time.Second
		r := newRig(t, cfg)
		defer r.stop()
		r.ph.offHook()
		if _, ok := r.waitEvent(EvDialed, 3500*time.Millisecond); ok {
			t.Fatal("warm line dialed early")
		}
		if e := r.mustEvent(EvDialed, time.Second); e.Number != "611" {
			t.Fatalf("%+v", e)
		}
		r.ph.onHook()
		r.mustEvent(EvOnHook, 1500*time.Millisecond)
		r.clearEvents()
		// Dialing before the delay wins over the warm line.
		r.ph.offHook()
		time.Sleep(300 * time.Millisecond)
		for _, d := range []byte("411") {
			r.ph.say(testDTMF(d, 70*time.Millisecond, 70*time.Millisecond))
		}
		if e := r.mustEvent(EvDialed, time.Second); e.Number != "411" {
			t.Fatalf("%+v", e)
		}
		time.Sleep(5 * time.Second)
		n := 0
		for _, e := range r.events() {
			if e.Kind == EvDialed {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("events %v", r.events())
		}
	})
	bad := DefaultConfig()
	bad.Hotline = "12a"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "Hotline") {
		t.Fatalf("bad hotline: %v", err)
	}
}
