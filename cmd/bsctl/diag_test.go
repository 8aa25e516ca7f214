package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/sim/broker"
)

func TestDiagShowsRadioAndLog(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, nil)
	fb.agent.Post(provisioning.Event{Type: provisioning.EvLineFault, Device: &provisioning.Device{ID: "port1", Type: provisioning.DevicePort}, Fault: "power alarm Q1"})
	fb.agent.Post(provisioning.Event{Type: provisioning.EvCallEnded, Extension: "101", Call: &provisioning.CallSummary{Direction: "in", Result: "no-answer", Peer: "102"}})
	// The agent publishes in order; wait until the second is logged.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := fb.bsctl(t, "--base", "bs-1", "diag", "--log", "5")
		if r.code == 0 && strings.Contains(r.out, "call-ended") {
			expect(t, r, 0, "Radio", "dect-0a1b2c3d", "linx", "unknown", "Recent events (newest first)", "line-fault", "restart", "first-start")
			if strings.Index(r.out, "call-ended") > strings.Index(r.out, "line-fault") {
				t.Fatalf("log not newest first:\n%s", r.out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("diag never showed the call: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := fb.bsctl(t, "--base", "bs-1", "diag", "--types", "line-fault")
	expect(t, r, 0, "line-fault")
	if strings.Contains(r.out, "call-ended") || strings.Contains(r.out, "restart") {
		t.Fatalf("--types line-fault showed other types:\n%s", r.out)
	}
	expect(t, fb.bsctl(t, "--base", "bs-1", "diag", "--types", "bogus"), 1, `unknown event type "bogus"`)
	expect(t, fb.bsctl(t, "--base", "bs-1", "diag", "--log", "999"), 2, "--log 999")
}

func TestLocate(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, nil)
	expect(t, fb.bsctl(t, "--base", "bs-1", "locate", "dect-0a1b2c3d"), 0, "locate: succeeded")
	expect(t, fb.bsctl(t, "--base", "bs-1", "locate", "--off", "dect-0a1b2c3d"), 0, "locate: succeeded")
	if got := strings.Join(fb.radio.Locates(), ","); got != "dect-0a1b2c3d on,dect-0a1b2c3d off" {
		t.Errorf("radio saw %s", got)
	}
	expect(t, fb.bsctl(t, "--base", "bs-1", "locate", "dect-12345678"), 1, "not paired")
	expect(t, fb.bsctl(t, "--base", "bs-1", "locate"), 2, "DEVICE")
}

func TestRadioColumns(t *testing.T) {
	seen := time.Date(2026, 12, 7, 9, 30, 0, 0, time.Local)
	got := radioCols(&provisioning.RadioHealth{Link: "in-range", RSSIdBm: -61, LinkQualityPct: 97, BatteryPct: 84, Firmware: "H1 1.4.2", LastSeen: &seen})
	if got != "in-range\t-61 dBm\t97%\t84%\tH1 1.4.2\t2026-12-07 09:30:00" {
		t.Errorf("%q", got)
	}
	got = radioCols(&provisioning.RadioHealth{Link: "switched-off", LinkQualityPct: -1, BatteryPct: -1})
	if got != "switched-off\t-\t-\t-\t-\t-" {
		t.Errorf("%q", got)
	}
}

// fakeTester answers line-test and callerid-self-test with results in the
// contract's form (docs/mqtt-api.md §5.5).
type fakeTester struct{ busy bool }

func (f fakeTester) LineTest(context.Context, string) (json.RawMessage, error) {
	if f.busy {
		return nil, fmt.Errorf("fxs: line busy: line call: %w", provisioning.ErrLineBusy)
	}
	return json.RawMessage(`{"pass":false,"tests":[{"name":"hazard_potential","pass":true,"measurements":[{"name":"tip_ground_ac","value":0,"unit":"V_rms","limit":"max","threshold":50,"pass":true}]},{"name":"resistive_faults","pass":false,"measurements":[{"name":"tip_ground","value":87666,"unit":"ohm","limit":"min","threshold":150000,"pass":false}]},{"name":"ren","pass":false,"skipped":"foreign voltage"}]}`), nil
}

func (f fakeTester) CallerIDSelfTest(context.Context) (json.RawMessage, error) {
	return json.RawMessage(`{"pass":false,"failure":"FSK: checksum","stages":[{"name":"fsk","pass":false,"expected":"80 1E","got":"80 0E"},{"name":"dtmf","pass":false,"skipped":"not supported"},{"name":"cadence","pass":true}]}`), nil
}

func TestDiagRunsLineTestAndSelfTest(t *testing.T) {
	fb := startFakeBase(t, broker.Options{}, func(o *provisioning.Options) { o.LineTester = fakeTester{} })
	r := fb.bsctl(t, "--base", "bs-1", "diag", "--line-test", "--self-test", "--log", "0")
	expect(t, r, 0, "Line test: FAIL", "resistive_faults", "tip_ground", "87666 ohm", "min 150000", "skipped: foreign voltage",
		"Caller-ID self-test: FAIL: FSK: checksum", "sent 80 1E, got 80 0E", "cadence  pass")
	r = fb.bsctl(t, "--base", "bs-1", "--json", "diag", "--line-test", "--log", "0")
	var rep struct {
		LineTest struct {
			Pass  bool `json:"pass"`
			Tests []any
		} `json:"line_test"`
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || len(rep.LineTest.Tests) != 3 {
		t.Fatalf("--json diag --line-test: %v\n%s", err, r.out)
	}

	busy := startFakeBase(t, broker.Options{}, func(o *provisioning.Options) { o.LineTester = fakeTester{busy: true} })
	expect(t, busy.bsctl(t, "--base", "bs-1", "diag", "--line-test"), 1, "rejected: busy", "line busy")
}
