package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"basestation/internal/testpeer"
	"basestation/provisioning"
)

// Issue 6, second item, against kamailio and baresip: the analog phone
// lifts, hears dial tone and dials 102 with DTMF; the INVITE leaves the
// base with 101's outbound caller ID as P-Preferred-Identity; kamailio,
// as the PBX, authenticates 101, checks 101 may use that number and turns
// it into P-Asserted-Identity; baresip's SIP trace shows the asserted
// caller ID (and no P-Preferred-Identity) in the INVITE it received, and
// its CALL_INCOMING event names Alice Analog. Bob answers, audio crosses
// both ways (the phone's ear hears Bob's 1000 Hz; Bob's recording carries
// the phone's 700 Hz); the analog phone hangs up and Bob's call closes.
// Then the portal changes 101's caller ID to a number the PBX does not
// allow 101: the next call offers it, kamailio refuses it and asserts
// 101's own identity.
func TestAnalogPhoneCallsBaresipWithCallerID(t *testing.T) {
	o := startOffice(t)
	bob := o.phone("102", 1000, true)
	ph := o.board.Phone

	ph.OffHook()
	o.eventually("dial tone", 3*time.Second, func() bool { return ph.Hearing() == "dial" })
	ctx, cancel := context.WithTimeout(o.ctx, 10*time.Second)
	defer cancel()
	if err := ph.DialDTMF(ctx, "102"); err != nil {
		t.Fatal(err)
	}
	inc := bob.MustEvent(t, "CALL_INCOMING", 10*time.Second)
	if name, _ := inc["peerdisplayname"].(string); name != "Alice Analog" {
		t.Errorf("baresip shows the call from %q, want Alice Analog (event %v)", name, inc)
	}
	if uri, _ := inc["peeruri"].(string); !strings.Contains(uri, "sip:101@127.0.0.1") {
		t.Errorf("baresip's caller URI %q, want 101's account", uri)
	}
	o.k.WaitLog(t, "MARK-PAI 101 asserted "+callerID101+" name=Alice Analog", time.Second)
	invites := sipTrace(bob, "INVITE sip:102", "CSeq: ")
	if len(invites) == 0 {
		t.Fatalf("baresip's SIP trace shows no INVITE:\n%s", testpeer.Tail(bob.Output(), 4000))
	}
	inv := invites[0]
	if want := `P-Asserted-Identity: "Alice Analog" <sip:` + callerID101 + `@127.0.0.1>`; !strings.Contains(inv, want) {
		t.Errorf("the INVITE baresip received lacks %q:\n%s", want, inv)
	}
	for _, l := range strings.Split(inv, "\n") {
		if strings.Contains(l, "INVITE sip:") || strings.Contains(l, "From:") || strings.Contains(l, "Identity") {
			t.Logf("baresip received: %s", strings.TrimSpace(l))
		}
	}
	if strings.Contains(inv, "P-Preferred-Identity") {
		t.Errorf("the PBX passed the phone's P-Preferred-Identity on:\n%s", inv)
	}
	o.eventually("ringback at the analog phone", 5*time.Second, func() bool { return ph.Hearing() == "ringback" })

	if err := bob.Command("accept", ""); err != nil {
		t.Fatal(err)
	}
	bob.MustEvent(t, "CALL_ESTABLISHED", 5*time.Second)
	ph.Speak(toneSamples(700, 4*time.Second))
	o.eventually("the analog phone hears Bob's 1000 Hz", 5*time.Second, func() bool { return near(o.earHz(), 1000, 15) })
	time.Sleep(2500 * time.Millisecond)
	ph.OnHook()
	bob.MustEvent(t, "CALL_CLOSED", 5*time.Second)
	o.eventually("the port idle", 5*time.Second, o.linesIdle)
	recordedTone(t, bob, 700)

	// The administrator changes 101's caller ID to a number the PBX does
	// not let 101 use: the base offers it at once (no restart), the PBX
	// refuses it and asserts 101's own identity instead.
	if _, err := o.cloud.SetExtension(ctx, baseID, "101", func(e *provisioning.Extension) error {
		e.CallerID = "+16135559999"
		return nil
	}); err != nil {
		t.Fatalf("changing 101's caller ID: %v", err)
	}
	ph.OffHook()
	o.eventually("dial tone", 3*time.Second, func() bool { return ph.Hearing() == "dial" })
	if err := ph.DialDTMF(ctx, "102"); err != nil {
		t.Fatal(err)
	}
	bob.MustEvent(t, "CALL_INCOMING", 10*time.Second)
	o.k.WaitLog(t, "MARK-PPI-REFUSED 101 may not use +16135559999", time.Second)
	invites = sipTrace(bob, "INVITE sip:102", "CSeq: ")
	if len(invites) < 2 || !strings.Contains(invites[len(invites)-1], `P-Asserted-Identity: "Alice Analog" <sip:101@127.0.0.1>`) {
		t.Errorf("the second INVITE baresip received does not assert 101's own identity:\n%v", invites)
	}
	ph.OnHook()
	bob.MustEvent(t, "CALL_CLOSED", 5*time.Second)
}
