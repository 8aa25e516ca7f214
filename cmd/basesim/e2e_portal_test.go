package main

import (
	"strings"
	"testing"
	"time"
)

// The portal's remaining flows through bsctl against the simulated base:
// change the outgoing caller ID (checked in what the called phone
// receives) and remove a device (deregistered from the radio, taken from
// its extension).
func TestBsctlCallerIDAndRemoveDevice(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	if out, err := e.bsctl("set", "--ext", "101", "--caller-id", "+16135551234"); err != nil {
		t.Fatalf("bsctl set: %v\n%s", err, out)
	}
	e.mustOK("POST", "/v1/ports/1/offhook", "", nil)
	e.eventually("dial tone", 3*time.Second, func() bool { return e.port().Phone.Hearing == "dial" })
	e.mustOK("POST", "/v1/ports/1/dial", `{"digits":"102"}`, nil)
	e.eventually("Bob's phone rings", 5*time.Second, func() bool { return e.softphone("102").State == "incoming" })
	if id := e.softphone("102").LastIdentity; !strings.Contains(id, "+16135551234") {
		t.Errorf("Bob sees identity %q, want the new caller ID +16135551234", id)
	}
	e.mustOK("POST", "/v1/ports/1/onhook", "", nil)

	headset, id := e.registerDevice("headset", "2468")
	if out, err := e.bsctl("assign", "--ext", "103", "--device", id); err != nil {
		t.Fatalf("bsctl assign: %v\n%s", err, out)
	}
	e.eventually("103 registered", 10*time.Second, func() bool { return e.registered("103") })
	if out, err := e.bsctl("remove-device", "--device", id); err != nil {
		t.Fatalf("bsctl remove-device: %v\n%s", err, out)
	}
	e.eventually("the headset lost its subscription", 10*time.Second, func() bool { return !e.device(headset).Registered })
	out, err := e.bsctl("devices", "--ext", "103")
	if err != nil || strings.Contains(out, id) {
		t.Fatalf("103 still lists the removed headset: %v\n%s", err, out)
	}
	for _, d := range e.w.daemon().Status().Devices {
		if d.ID == id {
			t.Fatalf("the base still knows %s", id)
		}
	}
}

// Fault injection on the radio link from the control API: with corrupted
// bytes and dropped and duplicated frames, and after a module reset, a
// Linx still pairs and rings.
func TestRadioFaultsFromTheControlAPI(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	e.mustOK("POST", "/v1/radio/faults", `{"corrupt_rate":0.01,"drop_rate":0.01,"dup_rate":0.01}`, nil)
	if st := e.call("POST", "/v1/radio/faults", `{"drop_rate":0.9}`, nil); st != 400 {
		t.Fatalf("drop_rate 0.9 accepted: %d", st)
	}
	linx, id := e.registerDevice("linx", "1357")
	if out, err := e.bsctl("assign", "--ext", "101", "--device", id); err != nil {
		t.Fatalf("bsctl assign: %v\n%s", err, out)
	}
	e.eventually("the Linx attached", 5*time.Second, func() bool { return e.device(linx).Attached })
	boots := e.w.board.Radio.Stats().Boots
	e.mustOK("POST", "/v1/radio/reset", "", nil)
	e.eventually("the module rebooted and the Linx re-attached", 10*time.Second, func() bool {
		return e.w.board.Radio.Stats().Boots > boots && e.w.daemon().Status().RadioReady && e.device(linx).Attached
	})
	e.mustOK("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
	e.eventually("the Linx rings after the reset", 10*time.Second, func() bool { return e.device(linx).Call == "ringing" })
	e.mustOK("POST", "/v1/softphones/102/hangup", "", nil)
	var radioView struct {
		Stats struct {
			Duplicates uint64 `json:"duplicates"`
			Boots      uint64 `json:"boots"`
		} `json:"stats"`
	}
	e.mustOK("GET", "/v1/radio", "", &radioView)
	if radioView.Stats.Boots < 2 {
		t.Errorf("module boots %d, want the reset counted", radioView.Stats.Boots)
	}
}

// A device that comes back into range while a call rings for its
// extension starts ringing too.
func TestDeviceBackInRangeJoinsRinging(t *testing.T) {
	e := startSim(t)
	e.eventually("101 registered", 10*time.Second, func() bool { return e.registered("101") })
	linx, id := e.registerDevice("linx", "8642")
	if out, err := e.bsctl("assign", "--ext", "101", "--device", id); err != nil {
		t.Fatalf("bsctl assign: %v\n%s", err, out)
	}
	e.eventually("the Linx attached", 5*time.Second, func() bool { return e.device(linx).Attached })
	e.mustOK("POST", "/v1/devices/"+linx+"/range", `{"in":false}`, nil)
	e.eventually("the Linx out of range", 5*time.Second, func() bool { return !e.device(linx).Attached })
	e.mustOK("POST", "/v1/softphones/102/call", `{"to":"101"}`, nil)
	e.eventually("the analog phone rings", 8*time.Second, func() bool { return e.port().Phone.Ringing })
	if e.device(linx).Call == "ringing" {
		t.Fatal("an out-of-range Linx rings")
	}
	e.mustOK("POST", "/v1/devices/"+linx+"/range", `{"in":true}`, nil)
	e.eventually("the Linx rings once back in range", 8*time.Second, func() bool { return e.device(linx).Call == "ringing" })
	e.mustOK("POST", "/v1/devices/"+linx+"/answer", "", nil)
	e.eventually("Bob connected to the Linx", 5*time.Second, func() bool { return e.softphone("102").State == "connected" })
	e.mustOK("POST", "/v1/softphones/102/hangup", "", nil)
}
