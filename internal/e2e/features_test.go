package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"basestation/sim/phone"
)

// Issue 6, third item, on the analog port against kamailio and two
// baresips. Bob (102, 700 Hz) calls 101 and the analog phone answers.
// Carol (103, 1400 Hz) calls 101: the phone hears the call-waiting tone
// and shows Carol's caller ID as call waiting (CIDCW, acknowledged by the
// phone). Flash answers Carol and holds Bob (baresip gets the hold
// re-INVITE); the ear hears Carol. Flash swaps back to Bob. Carol hangs
// up. Then flash, dial 103, hang up: the base sends REFER through
// kamailio, Bob's baresip accepts it and calls Carol, who answers, and
// Bob and Carol hear each other; the base's line is idle.
func TestCallWaitingSwapAndBlindTransferWithBaresips(t *testing.T) {
	o := startOffice(t)
	bob := o.phone("102", 700, true)
	carol := o.phone("103", 1400, false)
	ph := o.board.Phone
	ctx, cancel := context.WithTimeout(o.ctx, 60*time.Second)
	defer cancel()

	if err := bob.Command("dial", "sip:101@"+o.k.Addr()); err != nil {
		t.Fatal(err)
	}
	o.eventually("the analog phone rings", 10*time.Second, func() bool { return ph.State().Ringing })
	ph.OffHook()
	bob.MustEvent(t, "CALL_ESTABLISHED", 5*time.Second)
	o.eventually("the phone hears Bob's 700 Hz", 5*time.Second, func() bool { return near(o.earHz(), 700, 15) })

	// Carol calls while Bob talks.
	if err := carol.Command("dial", "sip:101@"+o.k.Addr()); err != nil {
		t.Fatal(err)
	}
	o.eventually("Carol's caller ID as call waiting", 10*time.Second, func() bool {
		c := ph.State().CallerID
		return c != nil && c.CallWaiting && c.Name == "Carol Baresip" && c.Number == "103"
	})
	if n := ph.State().CASAcks; n == 0 {
		t.Error("the phone never acknowledged the CAS alert")
	}
	heardCW := false
	for _, s := range ph.Segments() {
		heardCW = heardCW || s.Label == phone.ToneCallWaiting
	}
	if !heardCW {
		t.Errorf("the phone never heard the call-waiting tone; segments: %v", labels(ph.Segments()))
	}
	carol.MustEvent(t, "CALL_RINGING", 5*time.Second)

	// Flash: Carol answered, Bob held.
	if err := ph.Flash(ctx, 600*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	carol.MustEvent(t, "CALL_ESTABLISHED", 5*time.Second)
	o.eventually("the phone hears Carol's 1400 Hz", 5*time.Second, func() bool { return near(o.earHz(), 1400, 15) })
	holds := sipTrace(bob, "INVITE sip:102", "a=sendonly")
	if len(holds) == 0 {
		t.Errorf("Bob's baresip received no hold re-INVITE (a=sendonly)")
	}

	// Flash: back to Bob; Carol's call stays up, held.
	if err := ph.Flash(ctx, 600*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	o.eventually("the phone hears Bob again", 5*time.Second, func() bool { return near(o.earHz(), 700, 15) })
	if e, err := carol.WaitEvent("CALL_CLOSED", 200*time.Millisecond); err == nil {
		t.Fatalf("Carol's held call closed: %v", e)
	}
	if err := carol.Command("hangup", ""); err != nil {
		t.Fatal(err)
	}
	carol.MustEvent(t, "CALL_CLOSED", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if near(o.earHz(), 700, 15) == false {
		t.Errorf("after Carol hung up the phone hears %.0f Hz, want Bob's 700 Hz", o.earHz())
	}

	// Blind transfer of Bob to Carol: flash, dial 103, hang up.
	if err := ph.Flash(ctx, 600*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	o.eventually("dial tone after the flash", 3*time.Second, func() bool {
		h := ph.Hearing()
		return h == phone.ToneDial || h == phone.ToneStutterDial
	})
	if err := ph.DialDTMF(ctx, "103"); err != nil {
		t.Fatal(err)
	}
	ph.OnHook()
	inc := carol.MustEvent(t, "CALL_INCOMING", 10*time.Second)
	if uri, _ := inc["peeruri"].(string); !strings.Contains(uri, "sip:102@") {
		t.Errorf("Carol's new call comes from %q, want Bob (the transferee)", uri)
	}
	o.k.WaitLog(t, "MARK-INDIALOG REFER", time.Second)
	if err := carol.Command("accept", ""); err != nil {
		t.Fatal(err)
	}
	carol.MustEvent(t, "CALL_ESTABLISHED", 5*time.Second)
	bob.MustEvent(t, "CALL_CLOSED", 10*time.Second) // the leg to 101 ended
	o.eventually("the base's line idle after the transfer", 5*time.Second, o.linesIdle)
	time.Sleep(2 * time.Second)
	if err := carol.Command("hangup", ""); err != nil {
		t.Fatal(err)
	}
	carol.MustEvent(t, "CALL_CLOSED", 5*time.Second)
	recordedTone(t, carol, 700) // Carol's last call: Bob speaking
	recordedTone(t, bob, 1400)  // Bob's last call: Carol speaking
	refer := sipTrace(bob, "REFER sip:", "Refer-To:")
	if len(refer) == 0 || !strings.Contains(refer[0], "sip:103@127.0.0.1") {
		t.Errorf("Bob's baresip received no REFER to 103: %q", refer)
	}
}

func labels(segs []phone.Segment) []string {
	var out []string
	for _, s := range segs {
		out = append(out, s.Label)
	}
	return out
}
