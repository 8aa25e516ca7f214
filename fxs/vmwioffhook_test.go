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
