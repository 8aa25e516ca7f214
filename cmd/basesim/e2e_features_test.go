package main

import (
	"strings"
	"testing"
	"time"

	"basestation/hal"
	"basestation/sim/softphone"
)

// addPhone gives another user of the office a softphone (103 by default
// has none).
func (e *simEnv) addPhone(ext string) {
	e.t.Helper()
	if _, err := e.w.addSoftphone(ext); err != nil {
		e.t.Fatal(err)
	}
}

// callerPhone is the simulated SIP phone of a caller.
func (e *simEnv) callerPhone(ext string) *softphone.Phone {
	e.t.Helper()
	c, err := e.w.caller(ext)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.phone
}

// Call waiting on the analog port: during a call with Bob, Carol calls 101;
// the phone hears the call-waiting tone and Carol's caller ID (Type II);
// flash answers Carol and holds Bob; flash again swaps back; hanging up
// Bob's call while Carol is held recalls the phone.
func TestCallWaitingAndSwapByFlash(t *testing.T) {
	e := startSim(t)
	e.addPhone("103")
	e.callerPhone("103").SetTone(1400)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
	e.eventually("ringing", 10*time.Second, func() bool { return e.port().Phone.Ringing })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("Bob connected", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })
	e.eventually("hears Bob's 1000 Hz", 5*time.Second, func() bool {
		f := dominantHz(e.w.board.Phone.EarAudio(), 2000)
		return f > 985 && f < 1015
	})

	e.mustOK("POST", "/v1/softphones/103/call", `{"to":"101"}`, nil)
	e.eventually("Carol's caller ID on call waiting", 10*time.Second, func() bool {
		c := e.port().Phone.CallerID
		return c != nil && c.CallWaiting && c.Name == "Carol Cordless"
	})
	if e.port().Phone.CASAcks == 0 {
		t.Error("the phone never acknowledged the CAS")
	}
	// Flash: Carol is answered, Bob is held.
	e.mustOK("POST", "/v1/ports/1/flash", `{"ms":600}`, nil)
	e.eventually("Carol connected", 5*time.Second, func() bool { return e.softphone("103").State == "connected" })
	e.eventually("hears Carol's 1400 Hz", 5*time.Second, func() bool {
		f := dominantHz(e.w.board.Phone.EarAudio(), 2000)
		return f > 1385 && f < 1415
	})
	// Flash again: back to Bob.
	e.mustOK("POST", "/v1/ports/1/flash", `{"ms":600}`, nil)
	e.eventually("hears Bob again", 5*time.Second, func() bool {
		f := dominantHz(e.w.board.Phone.EarAudio(), 2000)
		return f > 985 && f < 1015
	})
	if st := e.softphone("103").State; st != "connected" {
		t.Fatalf("Carol's held call is %q", st)
	}
	e.mustOK("POST", "/v1/softphones/102/hangup", "", nil)
	e.mustOK("POST", "/v1/softphones/103/hangup", "", nil)
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
}

// Blind transfer from the analog port: in a call with Bob, flash, dial
// 103, hang up: Bob is connected to Carol.
func TestBlindTransferByFlashDialHangUp(t *testing.T) {
	e := startSim(t)
	e.addPhone("103")
	e.callerPhone("103").SetTone(1400)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
	e.eventually("ringing", 10*time.Second, func() bool { return e.port().Phone.Ringing })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("Bob connected", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })
	e.mustOK("POST", "/v1/ports/1/flash", `{"ms":600}`, nil)
	e.eventually("dial tone after flash", 3*time.Second, func() bool {
		h := e.port().Phone.Hearing
		return h == "dial" || h == "stutter-dial"
	})
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"103"}`, nil)
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
	e.eventually("Carol's phone rings", 10*time.Second, func() bool { return e.softphone("103").State == "incoming" })
	e.mustOK("POST", "/v1/softphones/103/answer", "", nil)
	e.eventually("Bob hears Carol", 10*time.Second, func() bool {
		hz := e.softphone("102").HeardHz
		return hz > 1385 && hz < 1415
	})
	e.eventually("the PBX records the transfer to 103", 5*time.Second, func() bool {
		for _, c := range e.w.pbx.Calls() {
			if c.TransferredTo == "103" {
				return true
			}
		}
		return false
	})
	e.mustOK("POST", "/v1/softphones/102/hangup", "", nil)
}

// A configuration change applied during a call on another line leaves
// that call up: Bob talks to 101 on the analog port while the
// administrator registers a Headset, assigns it to 103 and changes 103's
// caller ID.
func TestConfigChangeDuringCallOnAnotherLine(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
	e.eventually("ringing", 10*time.Second, func() bool { return e.port().Phone.Ringing })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("Bob connected", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })
	v0 := e.w.daemon().Status().AppliedVersion

	_, id := e.registerDevice("headset", "4321")
	if out, err := e.bsctl("assign", "--ext", "103", "--device", id); err != nil {
		t.Fatalf("bsctl assign: %v\n%s", err, out)
	}
	if out, err := e.bsctl("set", "--ext", "103", "--caller-id", "+16135559999"); err != nil {
		t.Fatalf("bsctl set: %v\n%s", err, out)
	}
	e.eventually("103 registered from the base", 10*time.Second, func() bool { return e.registered("103") })
	if v := e.w.daemon().Status().AppliedVersion; v < v0+2 {
		t.Fatalf("applied version %d, want at least %d", v, v0+2)
	}
	// The call on the analog port is still up, audio flowing.
	if st := e.softphone("102").State; st != "connected" {
		t.Fatalf("Bob's call is %q after the configuration changes", st)
	}
	before := e.softphone("102").ReceivedAudio
	time.Sleep(500 * time.Millisecond)
	if after := e.softphone("102").ReceivedAudio; after <= before {
		t.Fatalf("no audio reaches Bob after the changes (%d → %d packets)", before, after)
	}
	e.mustOK("POST", "/v1/softphones/102/hangup", "", nil)
}

// With no extension registered, lifting the handset gives the
// out-of-service intercept tone (SIT) and the cloud is told.
func TestUnregisteredLineIsOutOfService(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	// The PBX forgets 101's password: its registration fails.
	if out, err := e.bsctl("set", "--ext", "101", "--sip-password", "wrong-one"); err != nil {
		t.Fatalf("bsctl set: %v\n%s", err, out)
	}
	e.eventually("101 no longer registered", 15*time.Second, func() bool { return !e.registered("101") })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("SIT intercept", 5*time.Second, func() bool { return strings.HasPrefix(e.port().Phone.Hearing, "sit") })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
}

// The base's LEDs and button: power on; the registration LED blinks while
// a long press holds registration mode open; a short press pages every
// device.
func TestLEDsAndButton(t *testing.T) {
	e := startSim(t)
	e.eventually("power LED", 5*time.Second, func() bool { return e.w.board.LEDs[hal.LEDPower].State() == hal.LEDOn })
	e.eventually("cloud LED", 10*time.Second, func() bool { return e.w.board.LEDs[hal.LEDCloud].State() == hal.LEDOn })
	var dv deviceView
	e.mustOK("POST", "/v1/devices", `{"kind":"headset"}`, &dv)
	e.mustOK("POST", "/v1/base/button", `{"held_ms":3500}`, nil)
	e.eventually("registration LED blinking", 5*time.Second, func() bool {
		s := e.w.board.LEDs[hal.LEDRegistration].State()
		return s == hal.LEDBlinkSlow || s == hal.LEDBlinkFast
	})
	e.mustOK("POST", "/v1/devices/"+dv.Name+"/pair", `{"pin":"0000"}`, nil)
	e.eventually("registration LED off after pairing", 5*time.Second, func() bool { return e.w.board.LEDs[hal.LEDRegistration].State() == hal.LEDOff })
	e.mustOK("POST", "/v1/base/button", `{"held_ms":200}`, nil)
	e.eventually("the headset is paged", 5*time.Second, func() bool { return e.device(dv.Name).Paging })
	// In a call the line LED is on.
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("line LED on", 3*time.Second, func() bool { return e.w.board.LEDs[hal.LEDLine].State() == hal.LEDOn })
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)
	e.eventually("line LED off", 3*time.Second, func() bool { return e.w.board.LEDs[hal.LEDLine].State() == hal.LEDOff })
	// A thermal alarm on the SLIC: the port goes safe, the fault LED
	// lights and the base reports the fault.
	if e.w.board.LEDs[hal.LEDFault].State() != hal.LEDOff {
		t.Fatal("fault LED on before any fault")
	}
	e.w.board.SLIC.InjectThermalAlarm()
	e.eventually("fault LED on", 5*time.Second, func() bool { return e.w.board.LEDs[hal.LEDFault].State() == hal.LEDOn })
	if f := e.w.daemon().Status().Faults["port1"]; f == "" {
		t.Fatal("no fault reported for port1")
	}
	e.w.board.SLIC.ClearThermalAlarm()
}
