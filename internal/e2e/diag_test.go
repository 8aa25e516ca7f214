package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/sim/slic"
)

// Issue 16, end to end: the cloud runs the line test and the caller-ID
// self-test on the simulated port, sees a DECT device's radio health and
// its leaving, locates it, and reads the calls and the rest in the event
// log, all over MQTT.
func TestDiagnosticsThroughTheCloud(t *testing.T) {
	o := startOffice(t)
	ctx, cancel := context.WithTimeout(o.ctx, 90*time.Second)
	defer cancel()
	cmd := func(name string, args any) *provisioning.Result {
		t.Helper()
		r, err := o.cloud.Command(ctx, baseID, name, args, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}

	// The line test on a healthy line, then with a 90 kΩ tip-ground leak.
	type verdict struct {
		Pass  bool `json:"pass"`
		Tests []struct {
			Name string `json:"name"`
			Pass bool   `json:"pass"`
		} `json:"tests"`
	}
	var v verdict
	r := cmd(provisioning.CmdLineTest, nil)
	if r.Status != provisioning.StatusSucceeded || json.Unmarshal(r.LineTest, &v) != nil || !v.Pass || len(v.Tests) != 5 {
		t.Fatalf("line test on a healthy line: %+v %s", r, r.LineTest)
	}
	if err := o.board.SLIC.SetLineConditions(slic.LineConditions{TipGroundOhms: 90e3, REN: 1}); err != nil {
		t.Fatal(err)
	}
	r = cmd(provisioning.CmdLineTest, nil)
	v = verdict{}
	if r.Status != provisioning.StatusSucceeded || json.Unmarshal(r.LineTest, &v) != nil || v.Pass {
		t.Fatalf("line test with a tip-ground leak: %+v %s", r, r.LineTest)
	}
	if i := slices.IndexFunc(v.Tests, func(x struct {
		Name string `json:"name"`
		Pass bool   `json:"pass"`
	}) bool {
		return x.Name == "resistive_faults"
	}); i < 0 || v.Tests[i].Pass {
		t.Errorf("the leak is not a failed resistive_faults test: %s", r.LineTest)
	}
	if err := o.board.SLIC.SetLineConditions(slic.LineConditions{REN: 1}); err != nil {
		t.Fatal(err)
	}
	r = cmd(provisioning.CmdCallerIDSelfTest, nil)
	if r.Status != provisioning.StatusSucceeded || json.Unmarshal(r.SelfTest, &v) != nil || !v.Pass {
		t.Fatalf("caller-ID self-test on a healthy chip: %+v %s", r, r.SelfTest)
	}
	// Refused while the phone is off-hook.
	o.board.Phone.OffHook()
	o.eventually("dial tone", 3*time.Second, func() bool { return o.board.Phone.Hearing() == "dial" })
	if r = cmd(provisioning.CmdLineTest, nil); r.Status != provisioning.StatusRejected || r.Reason != "busy" {
		t.Errorf("line test with the phone off-hook: %+v", r)
	}
	o.board.Phone.OnHook()
	o.eventually("the port idle", 5*time.Second, o.linesIdle)

	// A call from the analog phone that 103 answers: call-ended, answered.
	carol := o.phone("103", 1000, false)
	o.board.Phone.OffHook()
	o.eventually("dial tone", 3*time.Second, func() bool { return o.board.Phone.Hearing() == "dial" })
	if err := o.board.Phone.DialDTMF(ctx, "103"); err != nil {
		t.Fatal(err)
	}
	carol.MustEvent(t, "CALL_INCOMING", 10*time.Second)
	if err := carol.Command("accept", ""); err != nil {
		t.Fatal(err)
	}
	carol.MustEvent(t, "CALL_ESTABLISHED", 5*time.Second)
	time.Sleep(2 * time.Second)
	o.board.Phone.OnHook()
	carol.MustEvent(t, "CALL_CLOSED", 5*time.Second)
	o.eventually("the port idle", 5*time.Second, o.linesIdle)

	// Radio health: a paired Headset in the state, out of range, located.
	hs, id := o.pairAssign("headset", "2580", "102")
	dev := func() provisioning.Device {
		st, err := o.cloud.State(ctx, baseID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range st.Devices {
			if d.ID == id {
				return d
			}
		}
		t.Fatalf("%s not in the state", id)
		return provisioning.Device{}
	}
	o.eventually("the Headset's radio health reported", 10*time.Second, func() bool {
		d := dev()
		return d.Radio != nil && d.Radio.Link == "in-range" && d.Radio.Firmware != "" && d.Radio.BatteryPct == 100
	})
	if r = cmd(provisioning.CmdLocate, provisioning.LocateArgs{Device: id}); r.Status != provisioning.StatusSucceeded {
		t.Fatalf("locate: %+v", r)
	}
	o.eventually("the Headset rings to be found", 5*time.Second, func() bool { return hs.State().Locating })
	hs.SetInRange(false)
	o.eventually("the state says out of range", 10*time.Second, func() bool {
		d := dev()
		return d.Radio != nil && d.Radio.Link == "out-of-range"
	})

	// The event log has it all, newest first.
	var log []provisioning.Event
	o.eventually("the event log", 10*time.Second, func() bool {
		log = cmd(provisioning.CmdEventLog, provisioning.EventLogArgs{Limit: 100}).Events
		return slices.ContainsFunc(log, func(e provisioning.Event) bool { return e.Type == provisioning.EvDeviceOutOfRange })
	})
	var kinds []string
	for _, e := range log {
		kinds = append(kinds, e.Type)
		if e.Type == provisioning.EvCallQuality && (e.Quality == nil || e.Quality.Report != provisioning.QualityEnd || e.Quality.Metrics == nil || e.Quality.Codec == "") {
			t.Errorf("call-quality entry %+v, want the end report with RFC 6035 metrics", e.Quality)
		}
		if e.Type == provisioning.EvCallEnded {
			if c := e.Call; e.Extension != "101" || c == nil || c.Direction != "out" || c.Result != "answered" || c.DurationS < 1 || c.DurationS > 5 {
				t.Errorf("call-ended entry %+v (call %+v), want 101's outgoing call answered, 2 s", e, e.Call)
			}
		}
		if e.Type == provisioning.EvDeviceOutOfRange && (e.Device == nil || e.Device.ID != id || e.Reason != "out-of-range") {
			t.Errorf("out-of-range entry %+v", e)
		}
	}
	for _, want := range []string{provisioning.EvCallQuality, provisioning.EvCallEnded, provisioning.EvDeviceOutOfRange, provisioning.EvDevicePaired, provisioning.EvRegistrationState, provisioning.EvConfigApplied, provisioning.EvRestart} {
		if !slices.Contains(kinds, want) {
			t.Errorf("event log lacks %s: %v", want, kinds)
		}
	}
	if kinds[len(kinds)-1] != provisioning.EvRestart || kinds[0] == provisioning.EvRestart {
		t.Errorf("event log not newest first: %v", kinds)
	}
}
