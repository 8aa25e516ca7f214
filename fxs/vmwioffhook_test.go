package fxs

import (
	"testing"
	"testing/synctest"
	"time"
)

// Soak finding F8: the mailbox changes while the phone is off-hook (it
// dialed out, the far end rings); once the phone is back on-hook the VMWI
// message is sent. (This path works: the finding is not in fxs's own
// keeping of vmwiDue.)
func TestVMWIChangedWhileOffHookSentAtOnHook(t *testing.T) {
	bin := spandspCID(t)
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		r.inCall()
		if err := r.p.PlayTone("ringback"); err != nil {
			t.Fatal(err)
		}
		if err := r.p.SetMessageWaiting(true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		t0 := time.Now()
		r.ph.onHook()
		time.Sleep(3 * time.Second)
		rec, _ := r.ph.recording(t0)
		msgs := decodeCID(t, bin, rec)
		if len(msgs) != 1 || msgs[0].typ != "82" || msgs[0].fields["0b"] != `\xff` {
			t.Fatalf("VMWI decoded after on-hook: %+v", msgs)
		}
	})
}

// A line fault in the middle of a VMWI burst: the message is sent again
// once the fault has cleared (the burst is dropped; vmwiDue is cleared
// only when a burst has gone out whole). Checked while looking for the
// soak's "port lamp false with 1 new" (FINDINGS F8): not the cause.
func TestVMWICutByFaultSentAfterIt(t *testing.T) {
	bin := spandspCID(t)
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.FaultRetry = 2 * time.Second
		r := newRig(t, cfg)
		defer r.stop()
		if err := r.p.SetMessageWaiting(true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // into the burst (lead-in, then FSK)
		r.m.InjectPowerAlarm(3)
		r.mustEvent(EvFault, 200*time.Millisecond)
		r.mustEvent(EvFaultCleared, 4*time.Second)
		t0 := time.Now()
		time.Sleep(3 * time.Second)
		rec, _ := r.ph.recording(t0)
		msgs := decodeCID(t, bin, rec)
		if len(msgs) != 1 || msgs[0].typ != "82" || msgs[0].fields["0b"] != `\xff` {
			t.Fatalf("VMWI decoded after the fault: %+v", msgs)
		}
	})
}

// The message state changes while the VMWI burst of the previous one is
// on the line: the new state is sent after it (the end of the burst used
// to mark the VMWI as sent, so the phone kept the old lamp; soak findings
// "port lamp false with 1 new" and "port lamp true with 0 new").
func TestVMWIChangedDuringBurstSentAfterIt(t *testing.T) {
	bin := spandspCID(t)
	for _, first := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, DefaultConfig())
			defer r.stop()
			t0 := time.Now()
			if !first {
				// Lamp on first, so that "off" is a change.
				if err := r.p.SetMessageWaiting(true); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Second)
			}
			if err := r.p.SetMessageWaiting(first); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // the burst has begun
			if err := r.p.SetMessageWaiting(!first); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			rec, _ := r.ph.recording(t0)
			msgs := decodeCID(t, bin, rec)
			want := `\x00`
			if !first {
				want = `\xff`
			}
			if len(msgs) == 0 || msgs[len(msgs)-1].typ != "82" || msgs[len(msgs)-1].fields["0b"] != want {
				t.Fatalf("lamp %v then %v: VMWI decoded %+v, want the last to say %s", first, !first, msgs, want)
			}
		})
	}
}
