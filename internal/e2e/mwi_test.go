package e2e

import (
	"strings"
	"testing"
	"time"

	"basestation/sim/phone"
)

// Issue 6, fourth item, from the real PBX's side: the base subscribes to
// 101's message summary at kamailio (which answers as the voicemail
// server); kamailio then sends a message-summary NOTIFY in that
// subscription (2 new, 1 old): the analog phone's lamp lights (VMWI FSK,
// decoded by the simulated phone) and lifting it gives stutter dial tone.
// A NOTIFY with no new messages puts the lamp out and dial tone is plain
// again.
func TestVoicemailLampFromKamailioNotify(t *testing.T) {
	o := startOffice(t)
	ph := o.board.Phone
	o.eventually("101's message-summary subscription at kamailio", 10*time.Second, func() bool {
		_, err := o.k.MWISubscription("101")
		return err == nil
	})
	o.k.WaitLog(t, "MARK-MWI-SUBSCRIBED 101", time.Second)
	if ph.MessageWaiting() {
		t.Fatal("the lamp is lit before any message")
	}

	res, err := o.k.NotifyMWI("101", 2, 2, 1)
	if err != nil || !strings.HasPrefix(res, "200") {
		t.Fatalf("NOTIFY (2 new) from kamailio: %q, %v", res, err)
	}
	t.Logf("the base answered the NOTIFY with %q", res)
	o.eventually("the lamp lights", 10*time.Second, ph.MessageWaiting)
	ph.OffHook()
	o.eventually("stutter dial tone", 3*time.Second, func() bool { return ph.Hearing() == phone.ToneStutterDial })
	ph.OnHook()
	time.Sleep(300 * time.Millisecond) // let the line settle on-hook (the lamp is sent on-hook)

	res, err = o.k.NotifyMWI("101", 3, 0, 3)
	if err != nil || !strings.HasPrefix(res, "200") {
		t.Fatalf("NOTIFY (no new) from kamailio: %q, %v", res, err)
	}
	o.eventually("the lamp goes out", 10*time.Second, func() bool { return !ph.MessageWaiting() })
	ph.OffHook()
	o.eventually("plain dial tone", 3*time.Second, func() bool { return ph.Hearing() == phone.ToneDial })
	ph.OnHook()
}
