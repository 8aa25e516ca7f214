package provisioning_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
	"basestation/provisioning/provisioningtest"
)

func command(t *testing.T, c *cloud.Client, b *base, id, name string, args any) *provisioning.Result {
	t.Helper()
	r, err := c.CommandID(tctx(t, 10*time.Second), b.id, id, name, args, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func types(evs []provisioning.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return strings.Join(s, ",")
}

// Issue 16 §5: the event log returns the base's recent events newest first,
// filtered by kind, with the restart that began the run.
func TestEventLogNewestFirstFiltered(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), nil)
	c := dialCloud(t, e)
	waitState(t, c, b.id, "online", func(*provisioning.State) bool { return true })
	events := watchEvents(t, c, b.id)
	b.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: &provisioning.Device{ID: "port1", Type: provisioning.DevicePort}, Fault: "foreign voltage"})
	b.agent.Post(provisioning.Event{Type: provisioning.EvCallEnded, Extension: "101", Call: &provisioning.CallSummary{Direction: "in", Result: "answered", Peer: "102", DurationS: 12}})
	b.agent.Post(provisioning.Event{Type: provisioning.EvDeviceOutOfRange, Device: &provisioning.Device{ID: "dect-0a1b2c3d", Type: provisioning.DeviceHeadset}, Reason: "out-of-range"})
	events.wait(t, "out-of-range", func(ev provisioning.Event) bool { return ev.Type == provisioning.EvDeviceOutOfRange })

	r := command(t, c, b, "log-1", provisioning.CmdEventLog, nil)
	if r.Status != provisioning.StatusSucceeded {
		t.Fatalf("event-log: %+v", r)
	}
	if got := types(r.Events); got != "device-out-of-range,call-ended,line-fault,restart" {
		t.Errorf("event log %s, want device-out-of-range,call-ended,line-fault,restart (newest first)", got)
	}
	if last := r.Events[len(r.Events)-1]; last.Reason != provisioning.RestartFirstStart {
		t.Errorf("restart reason %q, want %q", last.Reason, provisioning.RestartFirstStart)
	}
	if ce := r.Events[1]; ce.Call == nil || ce.Call.Result != "answered" || ce.Call.DurationS != 12 {
		t.Errorf("call-ended entry %+v", ce)
	}
	r = command(t, c, b, "log-2", provisioning.CmdEventLog, map[string]any{"types": []string{"line-fault", "call-ended"}, "limit": 1})
	if got := types(r.Events); got != "call-ended" {
		t.Errorf("filtered log %s, want call-ended", got)
	}
	for i, bad := range []struct {
		args any
		want string
	}{
		{map[string]any{"limit": 999}, "args.limit"},
		{map[string]any{"types": []string{"line-fault", "bogus"}}, `args.types[1]: unknown event type "bogus"`},
		{map[string]any{"kinds": []string{"x"}}, "kinds"},
		{[]int{1}, "args"},
	} {
		r := command(t, c, b, fmt.Sprintf("log-bad-%d", i), provisioning.CmdEventLog, bad.args)
		if r.Status != provisioning.StatusRejected || !strings.Contains(r.Reason, bad.want) {
			t.Errorf("event-log %v: %s %q, want rejected naming %q", bad.args, r.Status, r.Reason, bad.want)
		}
	}
}

// The log outlives the process: a clean stop is recorded with its reason,
// a run that ended without one is reported as unclean, and a corrupt file
// is set aside instead of stopping the base.
func TestEventLogAcrossRestarts(t *testing.T) {
	e := mochiEnv(t, false)
	dir := t.TempDir()
	b := startBase(t, e, dir, nil)
	c := dialCloud(t, e)
	waitState(t, c, b.id, "online", func(*provisioning.State) bool { return true })
	b.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: &provisioning.Device{ID: "port1", Type: provisioning.DevicePort}, Fault: "power alarm"})
	events := watchEvents(t, c, b.id)
	b.agent.Post(provisioning.Event{Type: provisioning.EvCallEnded, Extension: "101", Call: &provisioning.CallSummary{Direction: "out", Result: "busy"}})
	events.wait(t, "call-ended", func(ev provisioning.Event) bool { return ev.Type == provisioning.EvCallEnded })
	b.stop()

	b = startBase(t, e, dir, nil)
	waitStatus(t, c, b.id, true, b.agent.Session())
	r := command(t, c, b, "log-after-stop", provisioning.CmdEventLog, nil)
	if got := types(r.Events); got != "restart,call-ended,line-fault,restart" {
		t.Fatalf("log after a clean restart: %s", got)
	}
	if r.Events[0].Reason != provisioning.RestartCleanStop+": stopped" {
		t.Errorf("restart reason %q, want %q", r.Events[0].Reason, provisioning.RestartCleanStop+": stopped")
	}
	b.stop()

	// A run that never stopped cleanly: the file as the periodic flush
	// leaves it (clean_stop false).
	path := filepath.Join(dir, "events.json")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unclean := strings.Replace(string(doc), `"clean_stop":true`, `"clean_stop":false`, 1)
	if unclean == string(doc) {
		t.Fatalf("no clean_stop in %s", doc)
	}
	if err := os.WriteFile(path, []byte(unclean), 0o600); err != nil {
		t.Fatal(err)
	}
	b = startBase(t, e, dir, nil)
	waitStatus(t, c, b.id, true, b.agent.Session())
	r = command(t, c, b, "log-after-crash", provisioning.CmdEventLog, map[string]any{"types": []string{"restart"}, "limit": 1})
	if len(r.Events) != 1 || r.Events[0].Reason != provisioning.RestartUnclean {
		t.Errorf("after an unclean end: %+v", r.Events)
	}
	b.stop()

	if err := os.WriteFile(path, []byte(`{"schema":1,"clean_stop":true,"events":[],"events":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b = startBase(t, e, dir, nil)
	waitStatus(t, c, b.id, true, b.agent.Session())
	r = command(t, c, b, "log-after-corrupt", provisioning.CmdEventLog, nil)
	if got := types(r.Events); got != "restart" || r.Events[0].Reason != provisioning.RestartUnclean {
		t.Errorf("after a corrupt log: %s %+v", got, r.Events)
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Errorf("corrupt log not set aside: %v", err)
	}
}

// Issue 16 §4: locate pages one paired device; the phone port and unknown
// devices are refused with the reason.
func TestLocateCommand(t *testing.T) {
	e := mochiEnv(t, false)
	b := startBase(t, e, t.TempDir(), provisioningtest.NewRadio(provisioning.Device{ID: "dect-0a1b2c3d", Type: provisioning.DeviceHeadset}))
	c := dialCloud(t, e)
	waitState(t, c, b.id, "online", func(*provisioning.State) bool { return true })
	if r := command(t, c, b, "loc-1", provisioning.CmdLocate, map[string]any{"device": "dect-0a1b2c3d"}); r.Status != provisioning.StatusSucceeded {
		t.Fatalf("locate: %+v", r)
	}
	if r := command(t, c, b, "loc-2", provisioning.CmdLocate, map[string]any{"device": "dect-0a1b2c3d", "on": false}); r.Status != provisioning.StatusSucceeded {
		t.Fatalf("locate off: %+v", r)
	}
	if got := strings.Join(b.radio.Locates(), ","); got != "dect-0a1b2c3d on,dect-0a1b2c3d off" {
		t.Errorf("radio saw %s", got)
	}
	for i, bad := range []struct {
		args any
		want string
	}{
		{map[string]any{"device": "dect-99999999"}, "not paired"},
		{map[string]any{"device": "port1"}, "not a DECT device"},
		{map[string]any{}, "args.device: missing"},
		{map[string]any{"device": "dect-0a1b2c3d", "on": "yes"}, "on"},
	} {
		r := command(t, c, b, fmt.Sprintf("loc-bad-%d", i), provisioning.CmdLocate, bad.args)
		if r.Status != provisioning.StatusRejected || !strings.Contains(r.Reason, bad.want) {
			t.Errorf("locate %v: %s %q, want rejected naming %q", bad.args, r.Status, r.Reason, bad.want)
		}
	}
}
