package fxs

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"basestation/endpoint"
	"basestation/sim/phone"
)

// A whole-line scenario checked by the simulated phone of sim/phone, whose
// ear, keypad, rotary dial, ringer and caller-ID display are another
// engineer's independent signal code.
func TestScenarioWithSimPhone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		ph := phone.New(r.m, phone.Config{Logger: quietLog()})
		ctx := context.Background()

		// Incoming call with caller ID.
		t0 := time.Now()
		when := time.Date(2026, 7, 14, 10, 30, 0, 0, time.UTC)
		if err := r.p.Ring(endpoint.CallerID{Number: "6135550123", Name: "Jane Doe", Time: when}, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(7 * time.Second)
		rings := ph.Rings()
		if len(rings) < 2 || !rings[0].Valid || !within(rings[0].End.Sub(rings[0].Start), 2*time.Second, 0.02) ||
			!within(rings[1].Start.Sub(rings[0].End), 4*time.Second, 0.02) {
			t.Fatalf("phone's ringer saw %+v", rings)
		}
		if rings[0].Hz < 19 || rings[0].Hz > 21 {
			t.Fatalf("ring frequency %.1f Hz", rings[0].Hz)
		}
		cids := ph.CallerIDs()
		if len(cids) != 1 || cids[0].Number != "6135550123" || cids[0].Name != "Jane Doe" || cids[0].Format != "MDMF" ||
			cids[0].Date == nil || cids[0].Date.String() == "" {
			t.Fatalf("display shows %+v", cids)
		}
		if d := cids[0].Received.Sub(t0); d < 2500*time.Millisecond || d > 5800*time.Millisecond {
			t.Fatalf("caller ID shown %v after ringing began", d)
		}
		ph.OffHook()
		if e := r.mustEvent(EvOffHook, 300*time.Millisecond); !e.Answer {
			t.Fatalf("%+v", e)
		}

		// Call waiting with caller ID: the phone ACKs the CAS and shows it.
		time.Sleep(200 * time.Millisecond)
		if err := r.p.AlertCallWaiting(endpoint.CallerID{Reason: endpoint.Private}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		cids = ph.CallerIDs()
		if len(cids) != 2 || !cids[1].CallWaiting || !cids[1].Private {
			t.Fatalf("call-waiting display %+v", cids)
		}
		if st := ph.State(); st.CASAcks != 1 || st.CIDErrors != 0 {
			t.Fatalf("phone state %+v", st)
		}

		// A hook flash, then hang up.
		r.clearEvents()
		if err := ph.Flash(ctx, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if e := r.mustEvent(EvFlash, 300*time.Millisecond); e.Duration < 450*time.Millisecond || e.Duration > 550*time.Millisecond {
			t.Fatalf("flash %v", e)
		}
		ph.OnHook()
		r.mustEvent(EvOnHook, 1500*time.Millisecond)

		// Message waiting: lamp by VMWI, stutter dial tone on off-hook.
		if err := r.p.SetMessageWaiting(true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if !ph.MessageWaiting() {
			t.Fatal("lamp off after VMWI on")
		}
		ph.OffHook()
		time.Sleep(2600 * time.Millisecond)
		if h := ph.Hearing(); h != phone.ToneStutterDial {
			t.Fatalf("ear hears %q after off-hook with message waiting", h)
		}

		// Dial with the keypad.
		r.clearEvents()
		if err := ph.DialDTMF(ctx, "6135550100"); err != nil {
			t.Fatal(err)
		}
		if e := r.mustEvent(EvDialed, time.Second); e.Number != "6135550100" {
			t.Fatalf("%+v", e)
		}
		if err := r.p.PlayTone("busy"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond)
		if h := ph.Hearing(); h != phone.ToneBusy {
			t.Fatalf("ear hears %q during busy", h)
		}
		ph.OnHook()
		r.mustEvent(EvOnHook, 1500*time.Millisecond)

		// Dial with the rotary dial; VMWI off turns the lamp off.
		_ = r.p.SetMessageWaiting(false)
		time.Sleep(1500 * time.Millisecond)
		if ph.MessageWaiting() {
			t.Fatal("lamp on after VMWI off")
		}
		r.clearEvents()
		ph.OffHook()
		time.Sleep(300 * time.Millisecond)
		if err := ph.DialRotary(ctx, "411"); err != nil {
			t.Fatal(err)
		}
		if e := r.mustEvent(EvDialed, 2*time.Second); e.Number != "411" {
			t.Fatalf("%+v", e)
		}
	})
}
