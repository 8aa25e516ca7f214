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
