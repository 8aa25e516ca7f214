package fxs

import (
	"testing"
	"testing/synctest"
	"time"

	"basestation/endpoint"
	"basestation/sim/phone"
)

// What the call layer hands the port in the call vocabulary reaches the
// phone's display as the analog line shows it (behaviour that lived in
// the daemon's adapter): the network's +1 NANP number without its country
// code, the call's time in the configured zone (Config.Location), a
// missing number and name as "unavailable".
func TestEndpointCallerIDOnTheDisplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Location = time.FixedZone("EST", -5*3600)
		r := newRig(t, cfg)
		defer r.stop()
		ph := phone.New(r.m, phone.Config{Logger: quietLog()})
		when := time.Date(2026, 7, 14, 15, 30, 0, 0, time.UTC) // 10:30 EST
		if err := r.p.Ring(endpoint.CallerID{Number: "+16135550123", Name: "Jane Doe", Time: when}, endpoint.Normal); err != nil {
			t.Fatal(err)
		}
		time.Sleep(7 * time.Second)
		if err := r.p.StopRinging(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := r.p.Ring(endpoint.CallerID{}, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(7 * time.Second)
		cids := ph.CallerIDs()
		if len(cids) != 2 {
			t.Fatalf("display shows %+v, want two calls", cids)
		}
		if c := cids[0]; c.Number != "6135550123" || c.Name != "Jane Doe" || c.Date == nil || *c.Date != (phone.DateTime{Month: 7, Day: 14, Hour: 10, Minute: 30}) {
			t.Errorf("first call shown as %+v (date %v), want 6135550123 Jane Doe 07/14 10:30", c, c.Date)
		}
		if c := cids[1]; c.Number != "" || !c.OutOfArea || !c.NameOutOfArea {
			t.Errorf("call without caller ID shown as %+v, want number and name unavailable", c)
		}
	})
}

// Dial tone asked for during a call (the call layer's answer to a hook
// flash) collects a second number with recall dial tone, as CollectDigits
// does; elsewhere it is plain dial tone's business of the port.
func TestEndpointDialToneDuringCallCollectsDigits(t *testing.T) {
	for _, tone := range []endpoint.Tone{endpoint.Dial, endpoint.StutterDial} {
		t.Run(string(tone), func(t *testing.T) {
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
				if err := r.p.PlayTone(tone); err != nil {
					t.Fatal(err)
				}
				if s := r.p.State(); s != StateDialing {
					t.Fatalf("state %v after dial tone in a call, want dialing", s)
				}
				time.Sleep(1200 * time.Millisecond)
				rec, _ := r.ph.recording(t0)
				segs := segments(rec, 300, 80)
				if len(segs) != 4 {
					t.Fatalf("recall dial tone: %d segments, want 3 bursts + steady", len(segs))
				}
				for _, d := range []byte("1234") {
					r.ph.say(testDTMF(d, 70*time.Millisecond, 70*time.Millisecond))
				}
				if e := r.mustEvent(EvDialed, 5*time.Second); e.Number != "1234" {
					t.Fatalf("%+v", e)
				}
			})
		})
	}
}

// Activity is what the daemon reports of the line: ringing, off-hook
// without call audio, talking with it, idle again after hanging up.
func TestEndpointActivity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		if a := r.p.Activity(); a != endpoint.Idle {
			t.Fatalf("activity %q at rest", a)
		}
		if err := r.p.Ring(endpoint.CallerID{Number: "100"}, ""); err != nil {
			t.Fatal(err)
		}
		if a := r.p.Activity(); a != endpoint.Ringing {
			t.Fatalf("activity %q while ringing", a)
		}
		r.ph.offHook()
		r.mustEvent(EvOffHook, 300*time.Millisecond)
		if a := r.p.Activity(); a != endpoint.Dialing {
			t.Fatalf("activity %q answered, no audio yet", a)
		}
		if _, err := r.p.ConnectAudio(); err != nil {
			t.Fatal(err)
		}
		if a := r.p.Activity(); a != endpoint.Talking {
			t.Fatalf("activity %q with audio", a)
		}
		r.ph.onHook()
		r.mustEvent(EvOnHook, 1500*time.Millisecond)
		if a := r.p.Activity(); a != endpoint.Idle {
			t.Fatalf("activity %q after hanging up", a)
		}
		r.clearEvents()
		r.ph.offHook()
		time.Sleep(200 * time.Millisecond)
		for _, d := range []byte("6135550100") {
			r.ph.say(testDTMF(d, 70*time.Millisecond, 70*time.Millisecond))
		}
		r.mustEvent(EvDialed, 3*time.Second)
		if a := r.p.Activity(); a != endpoint.Dialing {
			t.Fatalf("activity %q placing a new call (audio of the last one must not count)", a)
		}
	})
}
