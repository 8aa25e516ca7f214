package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"basestation/sim/radio"
)

// Issue 6, first scenario, against kamailio and baresip: the portal
// registers a Linx (RegisterDevice; the Linx pairs with the PIN) and
// assigns it to 101, which already has the analog port. Bob (baresip, 102)
// calls 101 through kamailio: the analog phone and the Linx ring at once,
// both showing Bob's caller ID. The Linx answers: the analog phone stops
// ringing, audio flows both ways (the Linx hears Bob's 1000 Hz WAV; Bob's
// own recording carries the Linx's 600 Hz). The Linx hangs up: Bob's call
// closes and every line of the base is idle. A second call is answered
// by the analog phone: the Linx stops alerting, and when Bob hangs up the
// analog phone hears busy tone.
func TestLinxAndAnalogPhoneRingTogetherForBaresip(t *testing.T) {
	o := startOffice(t)
	bob := o.phone("102", 1000, false)
	linx, id := o.pairLinx("4711")
	ctx, cancel := context.WithTimeout(o.ctx, 20*time.Second)
	defer cancel()
	if _, err := o.cloud.AssignDevice(ctx, baseID, "101", id); err != nil {
		t.Fatalf("assigning %s to 101: %v", id, err)
	}
	o.eventually("the Linx attached to 101 next to the port", 10*time.Second, func() bool {
		devs := o.d.Status().Extensions["101"]
		return slices.Contains(devs, id) && slices.Contains(devs, "port1")
	})
	devs, err := o.cloud.ExtensionDevices(ctx, baseID, "101")
	if err != nil || len(devs) != 2 {
		t.Fatalf("the portal lists 101's devices as %+v (%v), want the port and the Linx", devs, err)
	}

	if err := bob.Command("dial", "sip:101@"+o.k.Addr()); err != nil {
		t.Fatal(err)
	}
	// Both ring at once: the Linx alerts while the analog phone's bell
	// rings its cadence.
	o.eventually("the Linx rings", 10*time.Second, func() bool { return linx.State().Call == radio.CallRinging })
	o.eventually("the analog phone's bell rings while the Linx alerts", 8*time.Second, func() bool {
		return o.board.Phone.State().Rings > 0 && linx.State().Call == radio.CallRinging
	})
	bob.MustEvent(t, "CALL_RINGING", 5*time.Second)
	if c := linx.State().Caller; c.Name != "Bob Baresip" || c.Number != "102" {
		t.Errorf("the Linx shows %+v, want Bob Baresip 102", c)
	}
	o.eventually("the analog phone shows Bob's caller ID", 8*time.Second, func() bool {
		c := o.board.Phone.State().CallerID
		return c != nil && c.Name == "Bob Baresip" && c.Number == "102"
	})
	o.k.WaitLog(t, "MARK-PAI 102 asserted 102", time.Second)

	// The Linx answers.
	if err := linx.Answer(); err != nil {
		t.Fatal(err)
	}
	bob.MustEvent(t, "CALL_ESTABLISHED", 5*time.Second)
	o.eventually("the Linx is connected", 3*time.Second, func() bool { return linx.State().Call == radio.CallConnected })
	o.eventually("the port's line stops ringing", 3*time.Second, func() bool {
		for _, l := range o.d.Status().Lines {
			if l.Device == "port1" {
				return l.State == "idle"
			}
		}
		return false
	})
	rings := o.board.Phone.State().Rings
	answered := time.Now()
	linx.SetSpeech(600, 8000)
	o.eventually("the Linx hears Bob's 1000 Hz", 5*time.Second, func() bool {
		return near(dominantHz(linx.Heard().Last), 1000, 60)
	})
	// Let Bob's side record a few seconds of the Linx's speech; the
	// analog phone's cadence (2 s on, 4 s off) would have rung again by
	// now had it kept ringing.
	time.Sleep(time.Until(answered.Add(4500 * time.Millisecond)))
	if n := o.board.Phone.State().Rings; n != rings || o.board.Phone.State().Ringing {
		t.Errorf("the analog phone rang on after the Linx answered (%d → %d bursts)", rings, n)
	}
	if o.board.Phone.State().Hook != "on-hook" {
		t.Errorf("the analog phone is %s", o.board.Phone.State().Hook)
	}

	// The Linx hangs up: both sides clear.
	if err := linx.HangUp(); err != nil {
		t.Fatal(err)
	}
	bob.MustEvent(t, "CALL_CLOSED", 5*time.Second)
	o.eventually("every line of the base idle", 5*time.Second, o.linesIdle)
	if st := linx.State(); st.Call != radio.CallIdle {
		t.Errorf("the Linx is %q after hanging up", st.Call)
	}
	recordedTone(t, bob, 600)

	// Bob calls again; this time the analog phone answers first: the
	// Linx stops alerting. Bob hangs up: the analog phone hears busy tone.
	if err := bob.Command("dial", "sip:101@"+o.k.Addr()); err != nil {
		t.Fatal(err)
	}
	o.eventually("the Linx rings again", 10*time.Second, func() bool { return linx.State().Call == radio.CallRinging })
	o.board.Phone.OffHook()
	bob.MustEvent(t, "CALL_ESTABLISHED", 5*time.Second)
	o.eventually("the Linx stops ringing", 3*time.Second, func() bool { return linx.State().Call == radio.CallIdle })
	o.eventually("the analog phone hears Bob's 1000 Hz", 5*time.Second, func() bool { return near(o.earHz(), 1000, 15) })
	if err := bob.Command("hangup", ""); err != nil {
		t.Fatal(err)
	}
	bob.MustEvent(t, "CALL_CLOSED", 5*time.Second)
	o.eventually("busy tone after Bob hangs up", 5*time.Second, func() bool { return o.board.Phone.Hearing() == "busy" })
	o.board.Phone.OnHook()
	o.eventually("every line of the base idle", 5*time.Second, o.linesIdle)
}
